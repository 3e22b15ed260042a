// docker-compose.yml: the control plane for hosts with a Docker engine and a network. Validated by
// the real docker-compose, and its environment file and module list by our own parsers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseCompose } from '../../src/lib/compose';
import { loadEnvironment } from '../../src/load-environment';
import { repoRoot } from '../helpers/stack';

const secrets = {
  TITAN_REDIS_PASSWORD: 'r', TITAN_S3_ACCESS_KEY_ID: 'a', TITAN_S3_SECRET_ACCESS_KEY: 'b',
  TITAN_OFFSITE_S3_ACCESS_KEY_ID: 'c', TITAN_OFFSITE_S3_SECRET_ACCESS_KEY: 'd', TITAN_REGISTRY_PASSWORD: 'e',
  TITAN_PAYLOAD_KEY_P2026: 'f',
};

function composeConfig(env: Record<string, string>) {
  return spawnSync('docker-compose', ['-f', path.join(repoRoot, 'docker-compose.yml'), '-p', 'titan-recovery', 'config'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
}

describe('docker-compose.yml (the control plane on a Docker host)', function () {
  it('docker-compose config accepts it: Temporal with its UI, the search attributes set up, a worker per host, Redis, two S3 locations, the registry; every port on 127.0.0.1', function () {
    const run = composeConfig(secrets);
    assert.equal(run.status, 0, run.stderr);
    const doc = parse(run.stdout) as { services: Record<string, { ports?: string[]; volumes?: string[]; command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, { condition: string }> }> };
    assert.deepEqual(Object.keys(doc.services).sort(), ['codec', 'redis', 'registry', 's3-offsite', 's3-primary', 'temporal', 'titan-setup', 'worker-modules', 'worker-redis']);
    // The UI decodes payloads through `titan codec-server`, on the host's loopback only.
    assert.ok(doc.services.temporal!.command!.join(' ').includes('--ui-codec-endpoint http://127.0.0.1:8235'));
    assert.deepEqual(doc.services.codec!.command!.slice(2, 5), ['codec-server', '--port', '8235']);
    // One list of search attributes: registered by `titan search-attributes apply` before the worker starts.
    assert.deepEqual(doc.services['titan-setup']!.command, ['search-attributes', 'apply']);
    for (const w of ['worker-redis', 'worker-modules']) assert.equal(doc.services[w]!.depends_on?.['titan-setup']?.condition, 'service_completed_successfully');
    // Each worker names its host; Temporal's address comes from the environment (envconfig), the dev server by default.
    assert.deepEqual(['worker-redis', 'worker-modules'].map((w) => doc.services[w]!.environment!.TITAN_HOST), ['redis', 'modules']);
    assert.equal(doc.services['worker-redis']!.environment!.TEMPORAL_ADDRESS, 'temporal:7233');
    const cloud = parse(composeConfig({ ...secrets, TEMPORAL_ADDRESS: 'titan.a1b2c.tmprl.cloud:7233', TEMPORAL_API_KEY: 'k' }).stdout) as typeof doc;
    for (const w of ['worker-redis', 'worker-modules', 'titan-setup']) {
      assert.deepEqual([cloud.services[w]!.environment!.TEMPORAL_ADDRESS, cloud.services[w]!.environment!.TEMPORAL_API_KEY], ['titan.a1b2c.tmprl.cloud:7233', 'k']);
    }
    assert.ok(!doc.services.temporal!.command!.includes('--search-attribute'));
    const ports = Object.values(doc.services).flatMap((s) => s.ports ?? []);
    assert.ok(ports.includes('127.0.0.1:8233:8233/tcp'), 'the Web UI');
    for (const p of ports) assert.match(p, /^127\.0\.0\.1:/);
    const redisHost = doc.services['worker-redis']!.volumes!;
    assert.ok(redisHost.includes('/var/run/docker.sock:/var/run/docker.sock:rw'), "Redis's host's worker drives its container");
    assert.ok(redisHost.includes('redis-data:/var/lib/titan/redis:rw'), "Redis's host's worker sees Redis's files where its environment file says");
    assert.ok(!doc.services['worker-modules']!.volumes!.some((v) => v.startsWith('redis-data:')), "the modules' host's worker never sees Redis's files");
  });

  it('a missing secret is refused, naming it', function () {
    const { TITAN_REDIS_PASSWORD: _omit, ...rest } = secrets;
    const run = composeConfig(rest);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /TITAN_REDIS_PASSWORD/);
    const { TITAN_PAYLOAD_KEY_P2026: _key, ...noKey } = secrets;
    const keyless = composeConfig(noKey);
    assert.notEqual(keyless.status, 0);
    assert.match(keyless.stderr, /TITAN_PAYLOAD_KEY_P2026/);
  });

  it('its environment file and module list pass our own validation', function () {
    const loaded = loadEnvironment(path.join(repoRoot, 'deploy', 'titan.compose.yaml'));
    assert.equal(loaded.env.redis.main!.dataDir, '/var/lib/titan/redis');
    assert.deepEqual([loaded.env.redis.main!.host, loaded.env.modules!.host], ['redis', 'modules']);
    const modules = parseCompose(readFileSync(path.join(repoRoot, 'deploy', 'modules.compose.yaml'), 'utf8'), { project: loaded.env.modules!.project!, source: '/etc/titan/modules.compose.yaml' });
    assert.deepEqual(Object.keys(modules.services).sort(), ['api', 'store', 'web']);
  });
});
