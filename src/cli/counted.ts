/** A count and its noun, agreeing: `1 folder`, `2 folders`, `1 entry`, `3 entries`. */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
