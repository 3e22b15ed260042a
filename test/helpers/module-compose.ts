// Compose files of test modules: titan/module containers on free 127.0.0.1 ports with host
// networking and a health check, and the environment file's modules section for them.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { freePort } from './redis-server';

/** Writes a compose file whose services are the modules, from image tag `tag`, each on its own port. */
export async function writeModuleCompose(file: string, modules: string[], tag = '1'): Promise<void> {
  const services: Record<string, unknown> = {};
  for (const s of modules) {
    const port = await freePort();
    services[s] = { image: `127.0.0.1:5000/titan/module:${tag}`, network_mode: 'host', environment: { PORT: String(port) }, healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${port}/health`], interval: '1s', retries: 2 } };
  }
  writeFileSync(file, stringify({ services }));
}

/** The modules section for a compose file and project, with the stack registry's login. */
export function moduleSection(composeFile: string, project: string, extra: Record<string, unknown> = {}) {
  return { composeFile, project, registry: { address: '127.0.0.1:5000', usernameEnv: 'TITAN_REGISTRY_USER', passwordEnv: 'TITAN_REGISTRY_PASSWORD' }, ...extra };
}
