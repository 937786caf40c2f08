/**
 * Sorted sequences merged into one sorted sequence, holding one value of each at a time. A
 * heap keeps the next value of each sequence, so that a value costs about log2(k) comparisons
 * for k sequences. Values that compare equal come in the order of their sequences.
 */
export async function* mergeSorted<T>(
  sequences: readonly AsyncIterable<T>[],
  compare: (a: T, b: T) => number,
): AsyncGenerator<T> {
  const iterators = sequences.map((sequence) => sequence[Symbol.asyncIterator]());
  const heap: Array<{ value: T; from: number }> = [];
  const before = (i: number, j: number): boolean => {
    const order = compare(heap[i]!.value, heap[j]!.value);
    return order < 0 || (order === 0 && heap[i]!.from < heap[j]!.from);
  };
  const swap = (i: number, j: number): void => {
    [heap[i], heap[j]] = [heap[j]!, heap[i]!];
  };
  const up = (start: number): void => {
    for (let i = start; i > 0 && before(i, (i - 1) >> 1); i = (i - 1) >> 1) swap(i, (i - 1) >> 1);
  };
  const down = (): void => {
    for (let i = 0; ;) {
      const [left, right] = [2 * i + 1, 2 * i + 2];
      let least = i;
      if (left < heap.length && before(left, least)) least = left;
      if (right < heap.length && before(right, least)) least = right;
      if (least === i) return;
      swap(i, least);
      i = least;
    }
  };

  try {
    for (const [from, iterator] of iterators.entries()) {
      const next = await iterator.next();
      if (next.done !== true) {
        heap.push({ value: next.value, from });
        up(heap.length - 1);
      }
    }

    while (heap.length > 0) {
      const top = heap[0]!;
      yield top.value;
      const next = await iterators[top.from]!.next();
      if (next.done !== true) {
        heap[0] = { value: next.value, from: top.from };
      } else {
        const last = heap.pop()!;
        if (heap.length === 0) break;
        heap[0] = last;
      }
      down();
    }
  } finally {
    await Promise.all(iterators.map((iterator) => iterator.return?.()));
  }
}
