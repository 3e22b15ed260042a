import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigError } from '../../src/lib/validation';
import { ComposeProject, ModuleSpec, parseCompose } from '../../src/lib/compose';
import { composeLabels, configHash, containerCreateOptions, dependencyWaves } from '../../src/lib/compose-container';

const SOURCE = '/srv/titan/docker-compose.yml';

/** The files beside the sample: its .env and env_files (docker-compose 1.29 reads them the same way). */
const FILES: Record<string, string> = {
  '.env': 'TAG=5\nTIER=front # the web tier\n',
  'common.env': '# shared by every module\nCOMMON=1\nSHARED=from-common\nexport QUOTED2="x  y"\n',
  'web.env': 'SHARED=from-web\nPORT=9999\nFROM_VARIABLES\n',
};
const readFrom = (dir: string) => (file: string) => (path.dirname(file) === dir ? FILES[path.basename(file)] : undefined);

/** Every supported form once; docker-compose 1.29 accepts it too (no top-level name, no long-form host_ip). */
const sample = `
x-defaults: &defaults
  restart: unless-stopped
services:
  web:
    image: "127.0.0.1:5000/titan/module:\${TAG:-1}"
    env_file:
      - common.env
      - ./web.env
    environment:
      - PORT=8080
      - FROM_VARIABLES
      - UNSET_ONE
      - "QUOTED=a b"
    command: sh -c 'echo "hi  there"' x\\ y ""
    entrypoint: ["/bin/sh"]
    ports:
      - "127.0.0.1:8080:80/tcp"
      - "9000-9001:9000-9001"
      - 53:53/udp
      - target: 81
        published: 8081
        protocol: tcp
        mode: host
      - "3000"
    volumes:
      - ./data:/data:ro
      - cache:/cache
      - /abs/../srv:/srv:rw
      - /anon
      - type: bind
        source: ../conf
        target: /etc/conf
        read_only: true
      - type: volume
        source: cache
        target: /cache2
    healthcheck:
      test: wget -q -O- http://127.0.0.1:8080/health
      interval: 1m30s
      timeout: 2s
      retries: 3
      start_period: 500ms
    depends_on:
      db:
        condition: service_healthy
      job:
        condition: service_completed_successfully
    restart: on-failure:3
    logging:
      driver: json-file
      options:
        max-size: 10m
        max-file: 3
    network_mode: host
    user: "65534:65534"
    labels:
      tier: $TIER
    stop_grace_period: 1m
    container_name: shop-web
    working_dir: /www
    stop_signal: SIGINT
    init: true
    tmpfs:
      - /run:size=64k
      - /tmp
    ulimits:
      nproc: 512
      nofile:
        soft: 1024
        hard: 2048
    cap_add: [NET_ADMIN, CHOWN]
    cap_drop: [ALL]
    extra_hosts:
      - "db.local:127.0.0.1"
      - "cache.local:127.0.0.2"
    deploy:
      resources:
        limits:
          memory: 64M
          cpus: "0.5"
    profiles: [front, ops]
  db:
    <<: *defaults
    image: busybox
    environment:
      X: $\${literal}
      "Y": 1
    healthcheck:
      test: ["CMD", "true"]
    labels:
      - b=2
      - a=1
    user: "999"
  job:
    image: busybox
    depends_on: [db]
    healthcheck:
      disable: true
    restart: "no"
  debug:
    image: busybox
    profiles: [debug]
    depends_on: [db]
volumes:
  cache: {}
  shared:
    external: true
`;
const variables = { TAG: '7', FROM_VARIABLES: 'from-vars' };
const parseSample = () => parseCompose(sample, { project: 'shop', source: SOURCE, variables, profiles: ['ops'], readFile: readFrom('/srv/titan') });

const expectedWeb: ModuleSpec = {
  image: '127.0.0.1:5000/titan/module:7',
  containerName: 'shop-web',
  command: ['sh', '-c', 'echo "hi  there"', 'x y', ''],
  entrypoint: ['/bin/sh'],
  environment: { COMMON: '1', FROM_VARIABLES: 'from-vars', PORT: '8080', QUOTED: 'a b', QUOTED2: 'x  y', SHARED: 'from-web' },
  user: '65534:65534',
  workingDir: '/www',
  labels: { tier: 'front' },
  ports: [
    { target: 53, protocol: 'udp', published: '53' },
    { target: 80, protocol: 'tcp', hostIp: '127.0.0.1', published: '8080' },
    { target: 81, protocol: 'tcp', published: '8081' },
    { target: 3000, protocol: 'tcp' },
    { target: 9000, protocol: 'tcp', published: '9000' },
    { target: 9001, protocol: 'tcp', published: '9001' },
  ],
  volumes: [
    { type: 'volume', target: '/anon', readOnly: false },
    { type: 'volume', source: 'shop_cache', target: '/cache', readOnly: false },
    { type: 'volume', source: 'shop_cache', target: '/cache2', readOnly: false, long: true },
    { type: 'bind', source: '/srv/titan/data', target: '/data', readOnly: true },
    { type: 'bind', source: '/srv/conf', target: '/etc/conf', readOnly: true, long: true },
    { type: 'bind', source: '/srv', target: '/srv', readOnly: false },
  ],
  healthcheck: { test: ['CMD-SHELL', 'wget -q -O- http://127.0.0.1:8080/health'], intervalMs: 90_000, timeoutMs: 2000, retries: 3, startPeriodMs: 500 },
  dependsOn: { db: { condition: 'service_healthy', restart: false }, job: { condition: 'service_completed_successfully', restart: false } },
  restart: { name: 'on-failure', maximumRetryCount: 3 },
  logging: { driver: 'json-file', options: { 'max-file': '3', 'max-size': '10m' } },
  networkMode: 'host',
  stopGracePeriodMs: 60_000,
  stopSignal: 'SIGINT',
  init: true,
  tmpfs: { '/run': 'size=64k', '/tmp': '' },
  ulimits: { nofile: { soft: 1024, hard: 2048 }, nproc: { soft: 512, hard: 512 } },
  capAdd: ['CHOWN', 'NET_ADMIN'],
  capDrop: ['ALL'],
  extraHosts: ['cache.local:127.0.0.2', 'db.local:127.0.0.1'],
  memoryBytes: 64 * 1024 * 1024,
  nanoCpus: 500_000_000,
};

function errorOf(text: string, variables: Record<string, string> = {}): string {
  try {
    parseCompose(text, { project: 'shop', source: 'compose.yml', variables });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.message.split('\n').length, 1, 'one line');
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

/** A one-service file with `extra` lines appended to the service. */
const web = (...extra: string[]) => ['services:', '  web:', '    image: busybox', ...extra.map((l) => `    ${l}`)].join('\n');

describe('compose file', () => {
  it('parses every supported form into the normalised spec', () => {
    const p = parseSample();
    assert.equal(p.name, 'shop');
    assert.deepEqual(p.services.web, expectedWeb);
    assert.deepEqual(p.services.db, {
      image: 'busybox',
      environment: { X: '${literal}', Y: '1' },
      user: '999',
      labels: { a: '1', b: '2' },
      ports: [],
      volumes: [],
      healthcheck: { test: ['CMD', 'true'] },
      dependsOn: {},
      restart: { name: 'unless-stopped', maximumRetryCount: 0 },
    });
    assert.deepEqual(p.services.job, {
      image: 'busybox', environment: {}, labels: {}, ports: [], volumes: [], healthcheck: { test: ['NONE'] },
      dependsOn: { db: { condition: 'service_started', restart: false } }, restart: { name: 'no', maximumRetryCount: 0 },
    });
    assert.deepEqual(p.volumes, {
      cache: { key: 'cache', name: 'shop_cache', external: false, driverOptions: {}, labels: {} },
      shared: { key: 'shared', name: 'shared', external: true, driverOptions: {}, labels: {} },
    });
    assert.deepEqual(Object.keys(p.services), ['web', 'db', 'job'], 'debug is not enabled by the profiles');
    assert.deepEqual(p.warnings, []);
    assert.deepEqual(Object.keys(p.services.web!.environment), ['COMMON', 'FROM_VARIABLES', 'PORT', 'QUOTED', 'QUOTED2', 'SHARED'], 'sorted');
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p, 'survives a JSON round trip (workflow arguments)');
  });

  it('reads the other spellings of ports, volumes, restart and the project name', () => {
    const p = parseCompose([
      'name: shop',
      web('ports: ["[::1]:8080:80", "127.0.0.1::90/udp", "8000-8010:70", 443]', 'volumes: [{type: volume, target: /v}]', 'restart: always',
        'command: ["a", "b c"]', 'healthcheck: {interval: 1.5s}'),
      '  other:', '    image: busybox', '    restart: on-failure', '    network_mode: "container:abc"',
    ].join('\n'), { project: 'shop', source: 'compose.yml' });
    const s = p.services.web!;
    assert.deepEqual(s.ports, [
      { target: 70, protocol: 'tcp', published: '8000-8010' },
      { target: 80, protocol: 'tcp', hostIp: '::1', published: '8080' },
      { target: 90, protocol: 'udp', hostIp: '127.0.0.1' },
      { target: 443, protocol: 'tcp' },
    ]);
    assert.deepEqual(s.volumes, [{ type: 'volume', target: '/v', readOnly: false, long: true }]);
    assert.deepEqual(s.restart, { name: 'always', maximumRetryCount: 0 });
    assert.deepEqual(s.command, ['a', 'b c']);
    assert.deepEqual(s.healthcheck, { intervalMs: 1500 });
    assert.deepEqual(p.services.other!.restart, { name: 'on-failure', maximumRetryCount: 0 });
    assert.equal(p.services.other!.networkMode, 'container:abc');
  });

  describe('interpolation', () => {
    const image = (ref: string, vars: Record<string, string>) =>
      parseCompose(`services:\n  web:\n    image: "${ref}"`, { project: 'shop', source: 'compose.yml', variables: vars }).services.web!.image;
    const cases: [string, Record<string, string>, string][] = [
      ['r/${NAME}:$TAG', { NAME: 'app', TAG: '2' }, 'r/app:2'],
      ['r:${TAG:-1}', {}, 'r:1'],
      ['r:${TAG:-1}', { TAG: '' }, 'r:1'],
      ['r:${TAG-1}', {}, 'r:1'],
      ['r:${TAG-1}', { TAG: '' }, 'r:'],
      ['r:${TAG-1}', { TAG: '3' }, 'r:3'],
      ['r:${TAG?}', { TAG: '' }, 'r:'],
      ['cost$$5:$${TAG}', { TAG: 'x' }, 'cost$5:${TAG}'],
    ];
    for (const [ref, vars, expected] of cases) {
      it(`${ref} with ${JSON.stringify(vars)} is ${expected}`, () => assert.equal(image(ref, vars), expected));
    }

    it('uses "" for an unset variable without a default, with a warning, as compose does', () => {
      const p = parseCompose(web('environment: {A: "x${MISSING}y", B: "$MISSING"}'), { project: 'shop', source: 'compose.yml' });
      assert.deepEqual(p.services.web!.environment, { A: 'xy', B: '' });
      assert.deepEqual(p.warnings, ['variable MISSING is not set: using "" (services.web.environment.A)', 'variable MISSING is not set: using "" (services.web.environment.B)']);
    });

    it('refuses a required variable and a lone $', () => {
      assert.equal(errorOf(web('user: "${WHO:?say who}"'), { WHO: '' }), 'compose.yml: services.web.user: variable WHO is required: say who');
      const objectProperty = parseCompose(web('user: "${toString}"'), { project: 'shop', source: 'compose.yml' });
      assert.equal(objectProperty.services.web!.user, '', "an Object property is not a variable");
      assert.match(errorOf(web('command: "echo $1"')), /^compose\.yml: services\.web\.command: invalid interpolation at "\$1": use \$\$/);
    });
  });

  const bad: [string, string, string][] = [
    ['a missing image', 'services:\n  web:\n    user: "1"', 'compose.yml: services.web.image: required'],
    ['build instead of image', 'services:\n  web:\n    build: .', 'compose.yml: services.web.build: building is not supported: push the image to the registry and name it with image:'],
    ['an unknown service key', web('scale: 2'), 'compose.yml: services.web: unknown key "scale"'],
    ['a misspelt service key, before the missing image', 'services:\n  web:\n    imgae: x', 'compose.yml: services.web: unknown key "imgae" (did you mean "image"?)'],
    ['a misspelt env_file', web('env_fil: .env'), 'compose.yml: services.web: unknown key "env_fil" (did you mean "env_file"?)'],
    ['an unknown top-level key', `${web()}\nnetworks: {}`, 'compose.yml: (top level): unknown key "networks"'],
    ['a bad duration', web('healthcheck: {interval: 10 seconds}'), 'compose.yml: services.web.healthcheck.interval: must be a duration such as 10s or 1m30s'],
    ['an unknown depends_on service', web('depends_on: [db]'), 'compose.yml: services.web.depends_on.db: no service named "db"'],
    ['a cycle a→b→a', 'services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: {a: {condition: service_healthy}}}', 'compose.yml: services.a.depends_on: dependency cycle a → b → a'],
    ['depends_on naming an Object property', web('depends_on: [constructor]'), 'compose.yml: services.web.depends_on.constructor: no service named "constructor"'],
    ['a bad short port', web('ports: ["80:http"]'), 'compose.yml: services.web.ports.0: must be [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. 127.0.0.1:8080:80/tcp'],
    ['an unknown long-form port key', web('ports: [{target: 80, host: 1}]'), 'compose.yml: services.web.ports.0: unknown key "host"'],
    ['mismatched port ranges', web('ports: ["1-3:1-2"]'), 'compose.yml: services.web.ports.0: the host and container port ranges must have the same length'],
    ['a numeric user', web('user: 1000'), 'compose.yml: services.web.user: must be a string such as "1000:1000" or a user name'],
    ['a bad restart', web('restart: sometimes'), 'compose.yml: services.web.restart: must be no, always, on-failure[:N] or unless-stopped'],
    ['an undeclared volume', web('volumes: ["data:/data"]'), 'compose.yml: services.web.volumes.0: volume "data" is not declared under the top-level volumes'],
    ['a relative bind without the file\'s path', web('volumes: ["./d:/d"]'), 'compose.yml: services.web.volumes.0: relative source "./d" needs the compose file\'s absolute path'],
    ['a bad volume mode', web('volumes: ["/d:/d:rx"]'), 'compose.yml: services.web.volumes.0: must be [SOURCE:]TARGET[:ro|rw]'],
    ['an unclosed quote', web('command: echo "hi'), 'compose.yml: services.web.command: has an unclosed quote or a trailing \\'],
    ['a bad healthcheck test', web('healthcheck: {test: [CMD-SHELL]}'), 'compose.yml: services.web.healthcheck.test: must start with CMD (then the arguments), CMD-SHELL (then one command) or be [NONE]'],
    ['disable with a test', web('healthcheck: {test: "true", disable: true}'), 'compose.yml: services.web.healthcheck: disable and test cannot be combined'],
    ['another project name', `name: other\n${web()}`, 'compose.yml: name: "other" differs from the project "shop" the environment file names'],
    ['no services', 'services: {}', 'compose.yml: services: must describe at least one service'],
  ];
  for (const [what, text, expected] of bad) {
    it(`refuses ${what} with one line naming the field`, () => assert.equal(errorOf(text), expected));
  }

  it('refuses YAML that does not parse, and a project name docker-compose would change', () => {
    assert.match(errorOf('services: [\n  web: {'), /^compose\.yml: line \d+ not valid YAML: /);
    assert.throws(() => parseCompose(web(), { project: 'Shop', source: 'compose.yml' }), /^ConfigError: compose\.yml: project: "Shop" must be lowercase/);
  });
});

describe('configHash', () => {
  const reordered = `
services:
  web:
    stop_grace_period: 60s
    container_name: shop-web
    labels: [tier=front]
    user: "65534:65534"
    network_mode: host
    logging: {options: {max-file: "3", max-size: 10m}, driver: json-file}
    restart: on-failure:3
    depends_on: {job: {condition: service_completed_successfully}, db: {condition: service_healthy}}
    healthcheck: {start_period: 500ms, retries: 3, timeout: 2s, interval: 90s, test: [CMD-SHELL, "wget -q -O- http://127.0.0.1:8080/health"]}
    volumes:
      - /srv:/srv
      - {type: bind, source: /srv/conf, target: /etc/conf, read_only: true}
      - /srv/titan/data:/data:ro
      - {type: volume, source: cache, target: /cache2}
      - /anon
      - cache:/cache:rw
    ports: [3000, "8081:81", "9001:9001", "9000:9000", "127.0.0.1:8080:80", "53:53/udp"]
    entrypoint: /bin/sh
    command: [sh, -c, 'echo "hi  there"', x y, ""]
    environment: {SHARED: from-web, QUOTED2: x  y, QUOTED: a b, PORT: 8080, FROM_VARIABLES: from-vars, COMMON: 1}
    image: 127.0.0.1:5000/titan/module:7
    deploy: {resources: {limits: {cpus: 0.5, memory: 65536k}}}
    extra_hosts: {db.local: 127.0.0.1, cache.local: 127.0.0.2}
    cap_drop: [ALL]
    cap_add: [CHOWN, NET_ADMIN]
    ulimits: {nproc: {soft: 512, hard: 512}, nofile: {hard: 2048, soft: 1024}}
    tmpfs: [/tmp, "/run:size=64k"]
    init: true
    stop_signal: SIGINT
    working_dir: /www
  db: {image: busybox}
  job: {image: busybox}
volumes: {cache: {}}
`;
  let hash: ModuleSpec;
  before(() => (hash = parseSample().services.web!)); // parsed in a hook: a parse failure fails tests, not the file load

  it('is the same for the same container written differently', () => {
    const other = parseCompose(reordered, { project: 'shop', source: SOURCE }).services.web!;
    assert.deepEqual(other, expectedWeb);
    assert.equal(configHash(other), configHash(hash));
    assert.equal(configHash(JSON.parse(JSON.stringify(hash))), configHash(hash));
    assert.match(configHash(hash), /^[0-9a-f]{64}$/);
  });

  it('changes with the environment or the image, not with the start order', () => {
    assert.notEqual(configHash({ ...hash, environment: { ...hash.environment, PORT: '8081' } }), configHash(hash));
    assert.notEqual(configHash({ ...hash, image: '127.0.0.1:5000/titan/module:8' }), configHash(hash));
    assert.notEqual(configHash({ ...hash, volumes: hash.volumes.slice(1) }), configHash(hash));
    assert.equal(configHash({ ...hash, dependsOn: {} }), configHash(hash));
  });
});

describe('dependencyWaves', () => {
  // e depends on nothing; d on e; b and c on d; a on b and c.
  const graph = `services:
  a: {image: x, depends_on: [b, c]}
  b: {image: x, depends_on: [d]}
  c: {image: x, depends_on: {d: {condition: service_healthy}}}
  d: {image: x, depends_on: [e]}
  e: {image: x}
`;
  let project: ComposeProject;
  before(() => (project = parseCompose(graph, { project: 'p', source: 'compose.yml' })));

  it('layers the whole project by depends_on', () => {
    assert.deepEqual(dependencyWaves(project), [['e'], ['d'], ['b', 'c'], ['a']]);
  });

  it('treats dependencies outside `only` as already running', () => {
    assert.deepEqual(dependencyWaves(project, ['a', 'c', 'e']), [['c', 'e'], ['a']]);
    assert.deepEqual(dependencyWaves(project, ['b', 'd']), [['d'], ['b']]);
    assert.throws(() => dependencyWaves(project, ['z']), /no service named "z"/);
  });
});

describe('containers', () => {
  let project: ComposeProject;
  let spec: ModuleSpec;
  before(() => {
    project = parseSample();
    spec = project.services.web!;
  });

  it('labels the container as docker-compose 1.29 does', () => {
    assert.deepEqual(composeLabels(project, 'web', spec), {
      'com.docker.compose.config-hash': configHash(spec),
      'com.docker.compose.container-number': '1',
      'com.docker.compose.oneoff': 'False',
      'com.docker.compose.project': 'shop',
      'com.docker.compose.project.config_files': SOURCE,
      'com.docker.compose.project.working_dir': '/srv/titan',
      'com.docker.compose.service': 'web',
      'com.docker.compose.version': '1.29.2',
      tier: 'front',
    });
    const relative = parseCompose(web(), { project: 'shop', source: 'compose.yml' });
    assert.ok(!('com.docker.compose.project.config_files' in composeLabels(relative, 'web', relative.services.web!)), 'no path to give');
  });

  it('builds the engine request', () => {
    const o = containerCreateOptions(project, 'web', spec, { name: 'shop-web', image: '127.0.0.1:5000/titan/module@sha256:abc' });
    assert.equal(o.name, 'shop-web');
    assert.equal(o.Image, '127.0.0.1:5000/titan/module@sha256:abc');
    assert.deepEqual(o.Env, ['COMMON=1', 'FROM_VARIABLES=from-vars', 'PORT=8080', 'QUOTED=a b', 'QUOTED2=x  y', 'SHARED=from-web']);
    assert.deepEqual(o.Cmd, spec.command);
    assert.deepEqual(o.Entrypoint, ['/bin/sh']);
    assert.deepEqual(o.Labels, composeLabels(project, 'web', spec));
    assert.equal(o.User, '65534:65534');
    assert.equal(o.WorkingDir, '/www');
    assert.equal(o.StopSignal, 'SIGINT');
    assert.deepEqual(o.Healthcheck, { Test: spec.healthcheck!.test, Interval: 90e9, Timeout: 2e9, Retries: 3, StartPeriod: 5e8 });
    assert.deepEqual(Object.keys(o.ExposedPorts!), ['53/udp', '80/tcp', '81/tcp', '3000/tcp', '9000/tcp', '9001/tcp']);
    assert.deepEqual(o.Volumes, { '/anon': {} });
    assert.equal(o.StopTimeout, 60);
    assert.equal(o.NetworkingConfig, undefined);
    assert.deepEqual(o.HostConfig, {
      NetworkMode: 'host',
      PortBindings: {
        '53/udp': [{ HostIp: '', HostPort: '53' }], '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '81/tcp': [{ HostIp: '', HostPort: '8081' }],
        '3000/tcp': [{ HostIp: '', HostPort: '' }], '9000/tcp': [{ HostIp: '', HostPort: '9000' }], '9001/tcp': [{ HostIp: '', HostPort: '9001' }],
      },
      // The short syntax through Binds (a missing host path is created), the long one through Mounts, as docker-compose 1.29 does.
      Binds: ['shop_cache:/cache:rw', '/srv/titan/data:/data:ro', '/srv:/srv:rw'],
      Mounts: [
        { Type: 'volume', Source: 'shop_cache', Target: '/cache2', ReadOnly: false },
        { Type: 'bind', Source: '/srv/conf', Target: '/etc/conf', ReadOnly: true },
      ],
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      LogConfig: { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '10m' } },
      Init: true,
      Tmpfs: { '/run': 'size=64k', '/tmp': '' },
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'nproc', Soft: 512, Hard: 512 }],
      CapAdd: ['CHOWN', 'NET_ADMIN'],
      CapDrop: ['ALL'],
      ExtraHosts: ['cache.local:127.0.0.2', 'db.local:127.0.0.1'],
      Memory: 67_108_864,
      NanoCpus: 500_000_000,
    });
  });

  it('puts a service without network_mode on the project network under its own name', () => {
    const o = containerCreateOptions(project, 'db', project.services.db!, { name: 'shop_db_1', image: 'busybox' });
    assert.equal(o.HostConfig!.NetworkMode, 'shop_default');
    assert.deepEqual(o.NetworkingConfig, { EndpointsConfig: { shop_default: { Aliases: ['db'] } } });
    assert.equal(o.Healthcheck!.Interval, undefined, 'the engine default');
    assert.equal(o.StopTimeout, undefined);
  });
});

describe('agreement with docker-compose 1.29', function () {
  let dir: string;
  // scripts/stack.sh installs docker-compose (and python3): a missing one fails here, loudly.
  before(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'titan-compose-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('`docker-compose config` normalises the sample to the same specs', () => {
    const file = path.join(dir, 'docker-compose.yml');
    writeFileSync(file, sample);
    for (const [name, text] of Object.entries(FILES)) writeFileSync(path.join(dir, name), text);
    const out = execFileSync('docker-compose', ['-f', file, 'config'], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...variables },
    });
    const normalised = parseYaml(out) as any;
    const inputs = { project: 'shop', source: file, variables, profiles: ['ops'], readFile: readFrom(dir) };
    const ours = parseCompose(sample, inputs);
    // Its .env and env_files, resolved into environment, read directly.
    const theirs = normalised.services.web;
    assert.deepEqual(ours.services.web!.environment, Object.fromEntries(Object.entries(theirs.environment).filter(([, v]) => v !== null)));
    assert.equal(ours.services.web!.image, theirs.image);
    assert.deepEqual(ours.services.web!.volumes.filter((m) => m.type === 'bind').map((m) => m.source).sort(),
      theirs.volumes.map((v: any) => (typeof v === 'string' ? /^(\/[^:]*):/.exec(v)?.[1] : v.type === 'bind' && v.source)).filter(Boolean).sort());
    // Its rewritten forms (expanded ranges, 90s, NONE, merged anchors, $$ re-escaped) must mean the same to us.
    delete normalised.version;
    const again = parseCompose(stringify(normalised), inputs);
    assert.deepEqual(again.services, ours.services);
  });

  it('commands split like shlex.split, which docker-compose uses', () => {
    const commands = [`sh -c 'echo "hi  there"' x\\ y ""`, `a "b \\" c" 'd\\' e\\\\f`, `  spaced\tout  `, `"a"'b'c`];
    const expected = JSON.parse(execFileSync('python3', ['-c', 'import json,shlex,sys; print(json.dumps([shlex.split(s) for s in json.load(sys.stdin)]))'],
      { input: JSON.stringify(commands), encoding: 'utf8' }));
    const ours = commands.map((c) => parseCompose(web(`command: ${JSON.stringify(c)}`), { project: 'shop', source: 'compose.yml' }).services.web!.command);
    assert.deepEqual(ours, expected);
  });
});
