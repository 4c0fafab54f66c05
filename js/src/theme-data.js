// GENERATED from kernel_ext/theme.json by `python -m taskscope.theme`; do not edit.
// tests/unit/test_theme.py fails when this file is stale.
export const THEME = {
  "palette": [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#2f9bd6",
    "#a0cb3c",
    "#d37295"
  ],
  "erred": "#111111",
  "erred_outline": "#e5484d",
  "cancelled": "#9e9e9e",
  "transfer": "#d62728",
  "disk": "#ff7f0e",
  "deserialize": "#bcbd22",
  "status": {
    "starting": "#8e8ce0",
    "idle": "#9e9e9e",
    "busy": "#30a46c",
    "running": "#2f80ed",
    "done": "#30a46c",
    "closed": "#6e7781",
    "exited": "#6e7781",
    "died": "#e5484d",
    "broken": "#e5484d",
    "erred": "#e5484d",
    "interrupted": "#f5a524",
    "cancelled": "#9e9e9e",
    "disconnected": "#f5a524"
  },
  "segment_alpha": {
    "processing": 0.5,
    "queued": 0.22
  },
  "memory": {
    "ok": "#4e79a7",
    "high": "#f28e2b",
    "critical": "#e5484d",
    "gone": "#8b949e",
    "spilled": "#c7ccd1",
    "unmanaged_alpha": 0.4,
    "high_fraction": 0.8,
    "critical_fraction": 0.95
  },
  "segments": [
    "released",
    "memory",
    "processing",
    "queued",
    "erred",
    "cancelled"
  ],
  "resources": {
    "cpu": {
      "title": "CPU",
      "series": [
        {
          "field": 1,
          "color": "#2f80ed",
          "label": "CPU total"
        }
      ]
    },
    "memory": {
      "title": "Memory",
      "series": [
        {
          "field": 2,
          "color": "#9c6ade",
          "label": "RSS total"
        },
        {
          "field": 4,
          "color": "#4e79a7",
          "label": "managed"
        }
      ]
    },
    "tasks": {
      "title": "Tasks / s",
      "series": [
        {
          "field": 3,
          "color": "#30a46c",
          "label": "tasks per second"
        }
      ]
    }
  },
  "saturation": {
    "title": "Saturation",
    "color": "#5e6ad2",
    "label": "running tasks, stacked by worker"
  },
  "panes": [
    {
      "name": "progress",
      "title": "Progress"
    },
    {
      "name": "task-stream",
      "title": "Task stream"
    },
    {
      "name": "memory",
      "title": "Memory"
    },
    {
      "name": "resources",
      "title": "Resources"
    },
    {
      "name": "workers",
      "title": "Workers"
    },
    {
      "name": "errors",
      "title": "Errors"
    },
    {
      "name": "graph",
      "title": "Task graph",
      "optional": true
    },
    {
      "name": "profile",
      "title": "Profile",
      "optional": true,
      "_comment": "optional: shown by default only when the pool's flag of that name is set (Pool(profile=True))"
    }
  ],
  "_graph_states": "The graph pane's node colours, by Dask's state names (optional panes are shown when asked for: panes=[...] or the Panes menu).",
  "graph_states": {
    "waiting": "#d0d7de",
    "queued": "#f5a524",
    "processing": "#30a46c",
    "memory": "#2f80ed",
    "erred": "#111111",
    "cancelled": "#9e9e9e",
    "released": "#a9c8ee"
  },
  "light": {
    "fg": "#1f2328",
    "fg2": "#59636e",
    "fg3": "#8c959f",
    "bg": "#ffffff",
    "bg2": "#f6f8fa",
    "border": "#d0d7de",
    "grid": "#eaeef2",
    "track": "#eaeef2"
  }
};
