/**
 * What a stream has sent of a text (an answer, a tool call's arguments), kept as its length and a
 * 64-bit hash instead of the text. The text is only ever compared once, with the final text the
 * backend repeats at the item's end; holding every delta for that (a rope of thousands of small
 * strings per stream) kept them alive across garbage collections, which copied them into the old
 * generation and grew the young one: measurably more CPU and memory per streamed answer.
 */
export class SentText {
  private length = 0;
  private readonly hash = new Hash();

  constructor(initial = "") {
    this.add(initial);
  }

  add(text: string): void {
    this.hash.feed(text, text.length);
    this.length += text.length;
  }

  /** The part of `full` not sent yet when what was sent is its beginning; "" when it is not (a client appends, it cannot replace). */
  rest(full: string): string {
    if (full.length <= this.length) return "";
    const prefix = new Hash();
    prefix.feed(full, this.length);
    return prefix.equals(this.hash) ? full.slice(this.length) : "";
  }
}

/** Two independent multiplicative hashes of 32 bits over UTF-16 units. */
class Hash {
  private low = 0x811c9dc5;
  private high = 0x2545f491;

  /** continues the hash over the first `end` units of `text` */
  feed(text: string, end: number): void {
    let { low, high } = this;
    for (let i = 0; i < end; i++) {
      const unit = text.charCodeAt(i);
      low = Math.imul(low ^ unit, 0x01000193);
      high = Math.imul(high ^ unit, 0x5bd1e995) ^ (high >>> 15);
    }
    this.low = low;
    this.high = high;
  }

  equals(other: Hash): boolean {
    return this.low === other.low && this.high === other.high;
  }
}
