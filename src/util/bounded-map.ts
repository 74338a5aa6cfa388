/**
 * A Map that keeps at most `max` entries: a new key set beyond that drops the oldest one. For caches of what was
 * made of a text (parse trees, conditions), which specs repeat over many SLOs but whose number is not bounded.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}
