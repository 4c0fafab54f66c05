/**
 * Fixed-capacity rings of fixed-width float64 records (task-stream rectangles,
 * resource samples). Records are addressed two ways:
 *  - logical index i in [0, length): 0 is the oldest record still kept;
 *  - global index (the record's position in the total sequence the host
 *    produced): `first + i`. `end` is the global index one past the newest.
 * The backing store is one Float64Array so 100,000 records cost 4.8 MB and no
 * per-record objects.
 */

export class Ring {
  /**
   * @param {number} capacity  records kept
   * @param {number} width     float64 fields per record
   */
  constructor(capacity, width) {
    this.capacity = Math.max(1, capacity | 0);
    this.width = width;
    this.data = new Float64Array(this.capacity * width);
    /** physical slot of the oldest record */
    this.head = 0;
    /** records kept */
    this.length = 0;
    /** global index of the oldest record kept */
    this.first = 0;
    /** bumped on every mutation, so views can tell whether to redraw */
    this.version = 0;
  }

  /** global index one past the newest record */
  get end() {
    return this.first + this.length;
  }

  /** @param {number} [first] global index the next appended record will have */
  clear(first = 0) {
    this.head = 0;
    this.length = 0;
    this.first = first;
    this.version++;
  }

  /**
   * Append records (flat, `n * width` floats). When more than `capacity`
   * arrive, only the newest are kept.
   * @param {Float64Array} recs
   */
  push(recs) {
    const w = this.width;
    let n = Math.floor(recs.length / w);
    if (n <= 0) return;
    let src = 0;
    if (n > this.capacity) {
      // only the newest `capacity` survive; account for the ones skipped
      const skip = n - this.capacity;
      src = skip * w;
      this.first += this.length + skip;
      this.head = 0;
      this.length = 0;
      n = this.capacity;
    }
    const overflow = this.length + n - this.capacity;
    if (overflow > 0) {
      this.head = (this.head + overflow) % this.capacity;
      this.length -= overflow;
      this.first += overflow;
    }
    let slot = (this.head + this.length) % this.capacity;
    let left = n;
    while (left > 0) {
      const chunk = Math.min(left, this.capacity - slot);
      this.data.set(recs.subarray(src, src + chunk * w), slot * w);
      src += chunk * w;
      left -= chunk;
      slot = (slot + chunk) % this.capacity;
    }
    this.length += n;
    this.version++;
  }

  /**
   * Offset into `data` of logical record i (0 = oldest).
   * @param {number} i
   */
  offset(i) {
    return ((this.head + i) % this.capacity) * this.width;
  }

  /**
   * Field f of logical record i.
   * @param {number} i @param {number} f
   */
  get(i, f) {
    return this.data[this.offset(i) + f];
  }

  /**
   * The kept records as at most two contiguous [startOffset, endOffset) spans
   * of `data`, oldest first: hot loops iterate them without modulo.
   * @returns {Array<[number, number]>}
   */
  spans() {
    const w = this.width;
    if (this.length === 0) return [];
    const a = this.head;
    const b = this.head + this.length;
    if (b <= this.capacity) return [[a * w, b * w]];
    return [[a * w, this.capacity * w], [0, (b - this.capacity) * w]];
  }

  /** A copy of the kept records, oldest first (flat). */
  toArray() {
    const out = new Float64Array(this.length * this.width);
    let o = 0;
    for (const [s, e] of this.spans()) {
      out.set(this.data.subarray(s, e), o);
      o += e - s;
    }
    return out;
  }

  /** An independent copy (used to freeze a view). */
  clone() {
    const r = new Ring(this.capacity, this.width);
    r.data.set(this.data);
    r.head = this.head;
    r.length = this.length;
    r.first = this.first;
    r.version = this.version;
    return r;
  }
}
