// SHA-256 of text, for content digests (config files, compose hashes). node:crypto: no workflow
// imports this (test/unit/import-graph.test.ts checks what workflow code reaches).
import { createHash } from 'node:crypto';

/** SHA-256 of the UTF-8 encoding of `text`, as lowercase hex. */
export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');
