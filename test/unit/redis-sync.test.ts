import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { openRdbSync } from '../../src/infra/redis-sync';
import { randomBytes } from '../helpers/prng';

/** Just enough of a Redis primary on 127.0.0.1: bulk replies to INFO, +OK to REPLCONF, then the payload in one write. */
async function fakePrimary(framing: 'length' | 'eof', payload: Buffer): Promise<{ url: string; close(): void }> {
  const mark = Buffer.alloc(40, 'm');
  const server = net.createServer((socket) => {
    let pending = '';
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      for (let cmd; (cmd = takeCommand()); ) {
        if (cmd[0] === 'INFO') socket.write('$2\r\nok\r\n');
        else if (cmd[0] === 'REPLCONF') socket.write('+OK\r\n');
        else if (cmd[0] === 'SYNC') {
          socket.write(framing === 'eof' ? Buffer.concat([Buffer.from(`$EOF:${mark.toString()}\r\n`), payload, mark]) : Buffer.concat([Buffer.from(`$${payload.length}\r\n`), payload]));
        }
      }
    });
    /** One whole RESP array of bulk strings off `pending`, or undefined until it has arrived. */
    const takeCommand = (): string[] | undefined => {
      const lines = pending.split('\r\n');
      const n = Number(/^\*(\d+)$/.exec(lines[0] ?? '')?.[1] ?? NaN);
      if (!(lines.length > 1 + 2 * n)) return undefined;
      pending = lines.slice(1 + 2 * n).join('\r\n');
      return lines.slice(1, 1 + 2 * n).filter((_, i) => i % 2 === 1);
    };
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: () => server.close() };
}

describe('openRdbSync: the replication stream read through reused buffers', () => {
  for (const framing of ['length', 'eof'] as const) {
    it(`yields exactly the payload (${framing} framing) to a consumer that reads each chunk only after yielding to the event loop`, async () => {
      // 24 MiB: many times the read buffers, so each is reused while the socket keeps delivering.
      const payload = Buffer.from(randomBytes(24 << 20, 17));
      const primary = await fakePrimary(framing, payload);
      const sync = await openRdbSync({ url: primary.url });
      try {
        const sha = createHash('sha256');
        let bytes = 0;
        for await (const chunk of sync.payload) {
          // A buffer reused before the consumer asks for the next chunk would change these bytes now.
          await new Promise((resolve) => setImmediate(resolve));
          sha.update(chunk);
          bytes += chunk.length;
        }
        assert.equal(bytes, payload.length);
        assert.equal(sha.digest('hex'), createHash('sha256').update(payload).digest('hex'));
      } finally {
        sync.close();
        primary.close();
      }
    });
  }
});
