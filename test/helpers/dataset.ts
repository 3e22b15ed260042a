// A digest of everything a Redis holds: every key of every database, its type, its value in a
// canonical form (sets and hashes sorted) and its absolute expire time, which an RDB preserves
// exactly. Equal digests before and after a restore mean every key, value and TTL came back.
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

export async function datasetDigest(client: (db: number) => Redis): Promise<{ digest: string; keys: number }> {
  const h = createHash('sha256');
  let keys = 0;
  const databases = Number((await client(0).config('GET', 'databases') as string[])[1]);
  for (let db = 0; db < databases; db++) {
    const r = client(db);
    const names: Buffer[] = [];
    const stream = r.scanBufferStream({ count: 1000 });
    for await (const batch of stream) names.push(...(batch as Buffer[]));
    names.sort(Buffer.compare);
    for (const key of names) {
      const type = await r.type(key);
      h.update(`${db}\0${key.toString('hex')}\0${type}\0${await r.call('PEXPIRETIME', key)}\0`);
      h.update(JSON.stringify(await canonicalValue(r, key, type)));
      keys++;
    }
  }
  return { digest: h.digest('hex'), keys };
}

async function canonicalValue(r: Redis, key: Buffer, type: string): Promise<unknown> {
  const hex = (b: Buffer[]) => b.map((x) => x.toString('hex'));
  switch (type) {
    case 'string': return (await r.getBuffer(key))!.toString('hex');
    case 'list': return hex(await r.lrangeBuffer(key, 0, -1));
    case 'set': return hex(await r.smembersBuffer(key)).sort();
    case 'zset': return hex(await r.zrangeBuffer(key, 0, -1, 'WITHSCORES'));
    case 'hash': {
      const flat = hex(await r.hgetallBuffer(key).then((o) => Object.entries(o).flatMap(([f, v]) => [Buffer.from(f), v])));
      const pairs: string[] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push(`${flat[i]}=${flat[i + 1]}`);
      return pairs.sort();
    }
    case 'stream': return await r.xrange(key, '-', '+');
    default: throw new Error(`no canonical form for type ${type}`);
  }
}
