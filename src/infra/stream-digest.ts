// Digests computed while bytes stream past: the SHA-256 recorded in the manifest, and the ETag S3
// should report for a multipart upload of the same bytes with the same part size (MD5 of the parts'
// MD5s, "-N"), which proves the stored object is the one we sent without reading it back. When the
// object is encrypted the two differ: the SHA-256 covers the plaintext, the ETag the ciphertext.
import { createHash, type Hash } from 'node:crypto';

export class StreamDigest {
  private readonly sha = createHash('sha256');
  private readonly partMd5s: Buffer[] = [];
  private part: Hash = createHash('md5');
  private partFill = 0;
  /** Bytes stored (ETag side) and hashed (SHA-256 side). */
  bytes = 0;
  plainBytes = 0;

  constructor(private readonly partSize: number) {}

  /** Bytes that are both the content and what is stored (plaintext backups). */
  update(chunk: Buffer): void {
    this.hashPlain(chunk);
    this.addStored(chunk);
  }

  hashPlain(chunk: Buffer): void {
    this.sha.update(chunk);
    this.plainBytes += chunk.length;
  }

  addStored(chunk: Buffer): void {
    this.bytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.partSize - this.partFill, chunk.length - offset);
      this.part.update(chunk.subarray(offset, offset + take));
      this.partFill += take;
      offset += take;
      if (this.partFill === this.partSize) this.closePart();
    }
  }

  /** Finishes both digests; call once, after the last chunk. */
  finish(): { sha256: string; etags: string[] } {
    if (this.partFill > 0 || this.partMd5s.length === 0) this.closePart();
    const sha256 = this.sha.digest('hex');
    const multipart = `${createHash('md5').update(Buffer.concat(this.partMd5s)).digest('hex')}-${this.partMd5s.length}`;
    // A stream that fits one part may go as a plain PUT, whose ETag is the MD5 itself.
    const etags = this.partMd5s.length === 1 ? [this.partMd5s[0]!.toString('hex'), multipart] : [multipart];
    return { sha256, etags };
  }

  private closePart(): void {
    this.partMd5s.push(this.part.digest());
    this.part = createHash('md5');
    this.partFill = 0;
  }
}
