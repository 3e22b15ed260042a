// `titan codec-server`: the environment's payload codec over HTTP for the Temporal Web UI
// (temporal server start-dev --ui-codec-endpoint) and `temporal ... --codec-endpoint`. A process of
// its own, not part of the worker: the UI keeps decoding while workers restart or scale, and it
// needs only the keys, no Redis, S3 or Docker credentials.
import { buildDataConverter } from '../deps';
import { startCodecServer } from '../infra/codec-server';
import type { LoadedEnvironment } from '../load-environment';

export const DEFAULT_CODEC_PORT = 8235;
export const DEFAULT_UI_ORIGIN = 'http://127.0.0.1:8233';

export async function codecServerCommand(loaded: LoadedEnvironment, o: { port: number; uiOrigin: string }): Promise<void> {
  const [codec] = buildDataConverter(loaded).payloadCodecs ?? [];
  if (!codec) throw new Error(`${loaded.source} has no temporal.encryption: payloads are plaintext, there is nothing to decode`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error(`--port must be a TCP port, not ${o.port}`);
  let origin: string;
  try {
    origin = new URL(o.uiOrigin).origin;
  } catch {
    throw new Error(`--ui-origin must be a URL such as ${DEFAULT_UI_ORIGIN}, not "${o.uiOrigin}"`);
  }
  const token = process.env.TITAN_CODEC_TOKEN || undefined;
  const server = await startCodecServer({ port: o.port, uiOrigin: origin, token, codec });
  console.log(`titan codec-server: http://127.0.0.1:${o.port} (/encode, /decode) for the Web UI at ${origin}${token ? ', bearer token required' : ''}`);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => server.close(() => resolve()));
  });
}
