/** Label sets of query results: the identity of an SLO instance. */
export type Labels = Record<string, string>;

const keys = new WeakMap<Labels, string>();

/** A stable key of a label set (sorted), `{}` for none. Label objects are not changed once made, so keys are cached. */
export function labelsKey(labels: Labels): string {
  let key = keys.get(labels);
  if (key === undefined) {
    key = `{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',')}}`;
    keys.set(labels, key);
  }
  return key;
}

/** The labels of a result series without the metric name, which differs between the parts of a ratio. */
export function seriesLabels(metric: Labels): Labels {
  const { __name__: _name, ...rest } = metric;
  return rest;
}

/** `{model="a",region="b"}`, or empty for no labels. */
export function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? `{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(', ')}}` : '';
}
