// The digest an image reference has in the private registry (Docker Registry HTTP API v2), so the
// last known good record says exactly which image a verified module ran.
import type { RegistryAuth } from './module-engine';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/**
 * sha256:… of `image` if it is in the registry `auth` logs into (undefined for a missing tag or
 * digest). An image pinned by digest (`repo[:tag]@sha256:…`) is looked up by that digest; another
 * registry's pinned image is taken at its word, another registry's tag is undefined.
 */
export async function registryDigest(image: string, auth: RegistryAuth): Promise<string | undefined> {
  const pinned = /@(sha256:[0-9a-f]{64})$/.exec(image);
  if (!image.startsWith(`${auth.serveraddress}/`)) return pinned?.[1];
  const rest = image.slice(auth.serveraddress.length + 1, pinned ? pinned.index : undefined);
  const colon = rest.lastIndexOf(':');
  const [repo, tag] = colon > rest.lastIndexOf('/') ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, 'latest'];
  const reference = pinned?.[1] ?? encodeURIComponent(tag);
  // The stack's registry (and any on the loopback interface) speaks plain HTTP.
  const scheme = /^(127\.0\.0\.1|localhost)(:|$)/.test(auth.serveraddress) ? 'http' : 'https';
  const res = await fetch(`${scheme}://${auth.serveraddress}/v2/${repo}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_TYPES, authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` },
    signal: AbortSignal.timeout(10_000),
  });
  return res.ok ? res.headers.get('docker-content-digest') ?? undefined : undefined;
}
