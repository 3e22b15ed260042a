// Each compose field Titan supports, one by one: how it is read (every spelling compose accepts)
// and what it becomes in the engine's create request; and the one error for everything else.
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/lib/validation';
import { type ComposeInputs, parseCompose } from '../../src/lib/compose';
import { completesOnce, containerCreateOptions, restartedWith } from '../../src/lib/compose-container';

const SOURCE = '/srv/app/compose.yml';

/** Parses `text` as /srv/app/compose.yml with `files` beside it. */
function parse(text: string, opts: Partial<ComposeInputs> & { files?: Record<string, string> } = {}) {
  const { files = {}, ...rest } = opts;
  return parseCompose(text, { project: 'shop', source: SOURCE, readFile: (f) => files[f], ...rest });
}
/** A one-service file with `lines` added to the service. */
const web = (...lines: string[]) => ['services:', '  web:', '    image: busybox', ...lines.map((l) => `    ${l}`)].join('\n');
const spec = (text: string, opts?: Parameters<typeof parse>[1]) => parse(text, opts).services.web!;
const create = (text: string, opts?: Parameters<typeof parse>[1]) => {
  const p = parse(text, opts);
  return containerCreateOptions(p, 'web', p.services.web!, { name: 'shop_web_1', image: 'busybox' });
};
function errorOf(text: string, opts?: Parameters<typeof parse>[1]): string {
  try {
    parse(text, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.message.split('\n').length, 1, 'one line');
    return err.message;
  }
  return assert.fail('expected a ConfigError');
}

describe('compose fields', () => {
  describe('env_file, environment and .env', () => {
    const files = {
      '/srv/app/.env': 'TAG=from-dotenv\nNAME=dotenv\nBARE_FROM_DOTENV=dot\n',
      '/srv/app/base.env': 'A=base\nB=base\nC=${NAME}\nBARE_FROM_DOTENV\nUNSET_BARE\n',
      '/srv/app/conf/override.env': 'B=override\n',
      '/etc/abs.env': 'D=absolute\n',
    };

    it('merges the env_files in order, then environment; bare keys come from the variables or are left out', () => {
      const s = spec(web('env_file: [base.env, ./conf/override.env, /etc/abs.env]', 'environment: [A=env, E]'), { files, variables: { E: 'process' } });
      assert.deepEqual(s.environment, { A: 'env', B: 'override', BARE_FROM_DOTENV: 'dot', C: 'dotenv', D: 'absolute', E: 'process' });
    });

    it('interpolates an env_file from its own earlier lines, the earlier env_files, then .env and the process (compose-go; 1.29 uses only the process)', () => {
      const more = { ...files, '/srv/app/late.env': 'L1=${A}/${NAME}/${B}\nB=late\nL2=${B}\n' };
      assert.deepEqual(spec(web('env_file: [base.env, late.env]'), { files: more }).environment,
        { A: 'base', B: 'late', BARE_FROM_DOTENV: 'dot', C: 'dotenv', L1: 'base/dotenv/base', L2: 'late' });
    });

    it('takes one path as well as a list, and environment as a map', () => {
      assert.deepEqual(spec(web('env_file: ./conf/override.env', 'environment: {X: 1, Y: true, Z: null}'), { files, variables: { Z: 'z' } }).environment, { B: 'override', X: '1', Y: 'true', Z: 'z' });
    });

    it('interpolates from the process environment over the .env beside the compose file', () => {
      assert.equal(spec('services:\n  web:\n    image: "busybox:${TAG}"\n    user: "${NAME}"', { files, variables: { TAG: 'from-process' } }).image, 'busybox:from-process');
      assert.equal(spec('services:\n  web:\n    image: "busybox:${TAG}"', { files }).image, 'busybox:from-dotenv');
      assert.equal(spec('services:\n  web:\n    image: "busybox:${TAG:-none}"').image, 'busybox:none', 'no .env: nothing read');
    });

    it('refuses a missing env_file, a malformed one, a malformed .env, and a relative path without the file\'s location', () => {
      assert.equal(errorOf(web('env_file: [base.env, nope.env]'), { files }), `${SOURCE}: services.web.env_file.1: nope.env: no such file`);
      assert.equal(errorOf(web('env_file: bad.env'), { files: { ...files, '/srv/app/bad.env': 'A=1\nB="open' } }), `${SOURCE}: services.web.env_file: bad.env: line 2: unclosed double quote`);
      assert.equal(errorOf(web(), { files: { '/srv/app/.env': 'A=${X:?set X}' } }), '/srv/app/.env: line 1: variable X is required: set X');
      assert.throws(() => parseCompose(web('env_file: a.env'), { project: 'shop', source: 'compose.yml' }), /^ConfigError: compose\.yml: services\.web\.env_file: relative path "a\.env" needs the compose file's absolute path$/);
      assert.match(errorOf(web('env_file: [{path: a.env}]')), /^\/srv\/app\/compose\.yml: services\.web\.env_file/);
    });
  });

  it('YAML anchors, merge keys and x- extension fields (top level, service, volume)', () => {
    const p = parse(`
x-common: &common
  restart: always
  environment: &env {A: "1"}
  x-note: ignored inside a merge too
services:
  web:
    <<: *common
    image: busybox
    x-owner: team-a
    volumes: [data:/data]
  job:
    <<: [*common]
    image: busybox
    environment: *env
volumes:
  data:
    x-backup: nightly
`);
    assert.deepEqual(p.services.web!.restart, { name: 'always', maximumRetryCount: 0 });
    assert.deepEqual(p.services.web!.environment, { A: '1' });
    assert.deepEqual(p.services.job!.environment, { A: '1' });
    assert.equal(p.volumes.data!.name, 'shop_data');
  });

  describe('profiles', () => {
    const file = `services:
  web: {image: busybox}
  debug: {image: busybox, profiles: [debug]}
  ops: {image: busybox, profiles: [ops, admin], depends_on: [web]}
  tool: {image: busybox, profiles: [ops], depends_on: [ops]}
`;
    it('leaves out a service none of whose profiles is enabled; services without profiles always run', () => {
      assert.deepEqual(Object.keys(parse(file).services), ['web']);
      assert.deepEqual(Object.keys(parse(file, { profiles: ['admin'] }).services), ['web', 'ops']);
      assert.deepEqual(Object.keys(parse(file, { profiles: ['ops', 'debug'] }).services), ['web', 'debug', 'ops', 'tool']);
    });

    it('refuses an enabled service that depends on a disabled one, and a bad profile name', () => {
      const p = `${file}  needs-debug: {image: busybox, depends_on: [debug]}\n`;
      assert.equal(errorOf(p), `${SOURCE}: services.needs-debug.depends_on.debug: service "debug" is not enabled: none of its profiles (debug) is in modules.profiles`);
      assert.deepEqual(Object.keys(parse(p, { profiles: ['debug'] }).services), ['web', 'debug', 'needs-debug']);
      assert.equal(errorOf(web('profiles: ["-x"]')), `${SOURCE}: services.web.profiles.0: must be a profile name (letters, digits, _ . -)`);
    });
  });

  it('command and entrypoint, string or list; user, working_dir, labels', () => {
    const o = create(web('command: sh -c "echo hi"', 'entrypoint: [/bin/env, -i]', 'user: "1000:1000"', 'working_dir: /work', 'labels: {a: 1, b: x}'));
    assert.deepEqual([o.Cmd, o.Entrypoint, o.User, o.WorkingDir], [['sh', '-c', 'echo hi'], ['/bin/env', '-i'], '1000:1000', '/work']);
    assert.deepEqual([o.Labels!.a, o.Labels!.b], ['1', 'x']);
    const l = create(web('command: [a, b c]', 'entrypoint: /bin/sh -e', 'labels: [a=1, b]'));
    assert.deepEqual([l.Cmd, l.Entrypoint, l.Labels!.a, l.Labels!.b], [['a', 'b c'], ['/bin/sh', '-e'], '1', '']);
  });

  it('stop_signal, stop_grace_period, restart, init', () => {
    const o = create(web('stop_signal: SIGUSR1', 'stop_grace_period: 1m30s', 'restart: unless-stopped', 'init: true'));
    assert.deepEqual([o.StopSignal, o.StopTimeout, o.HostConfig!.RestartPolicy, o.HostConfig!.Init], ['SIGUSR1', 90, { Name: 'unless-stopped', MaximumRetryCount: 0 }, true]);
    const d = create(web());
    assert.deepEqual([d.StopSignal, d.StopTimeout, d.HostConfig!.RestartPolicy, d.HostConfig!.Init], [undefined, undefined, { Name: 'no', MaximumRetryCount: 0 }, undefined]);
    assert.equal(errorOf(web('stop_signal: TERM')), `${SOURCE}: services.web.stop_signal: must be a signal such as SIGTERM or 15`);
    assert.equal(errorOf(web('init: "yes"')), `${SOURCE}: services.web.init: must be true or false`);
  });

  it('tmpfs, one path or a list, with options', () => {
    assert.deepEqual(create(web('tmpfs: /run')).HostConfig!.Tmpfs, { '/run': '' });
    assert.deepEqual(create(web('tmpfs: ["/tmp:size=1m,mode=1777", /run]')).HostConfig!.Tmpfs, { '/run': '', '/tmp': 'size=1m,mode=1777' });
    assert.equal(errorOf(web('tmpfs: [tmp]')), `${SOURCE}: services.web.tmpfs: "tmp" must be an absolute path[:options]`);
  });

  it('ulimits as a number or soft/hard', () => {
    assert.deepEqual(create(web('ulimits: {nproc: 64, nofile: {soft: 100, hard: 200}}')).HostConfig!.Ulimits,
      [{ Name: 'nofile', Soft: 100, Hard: 200 }, { Name: 'nproc', Soft: 64, Hard: 64 }]);
    assert.equal(errorOf(web('ulimits: {nofile: {soft: 1}}')), `${SOURCE}: services.web.ulimits.nofile.hard: required`);
  });

  it('cap_add, cap_drop, extra_hosts (list, = form and map)', () => {
    const o = create(web('cap_add: [SYS_TIME, NET_ADMIN]', 'cap_drop: [ALL]', 'extra_hosts: ["b.local:127.0.0.2", "a.local=127.0.0.1", "v6.local:::1"]'));
    assert.deepEqual([o.HostConfig!.CapAdd, o.HostConfig!.CapDrop, o.HostConfig!.ExtraHosts], [['NET_ADMIN', 'SYS_TIME'], ['ALL'], ['a.local:127.0.0.1', 'b.local:127.0.0.2', 'v6.local:::1']]);
    assert.deepEqual(create(web('extra_hosts: {x.local: 127.0.0.9}')).HostConfig!.ExtraHosts, ['x.local:127.0.0.9']);
    assert.equal(errorOf(web('extra_hosts: [nohost]')), `${SOURCE}: services.web.extra_hosts.0: must be HOST:IP`);
  });

  it('logging', () => {
    assert.deepEqual(create(web('logging: {driver: json-file, options: {max-size: 1m, max-file: 2}}')).HostConfig!.LogConfig, { Type: 'json-file', Config: { 'max-file': '2', 'max-size': '1m' } });
  });

  describe('deploy.resources.limits', () => {
    // docker-py's parse_bytes (docker-compose 1.29): units ×1024, an optional b, fractions truncated.
    const sizes: [string, number][] = [['1024', 1024], ['"512k"', 524_288], ['64M', 67_108_864], ['64mb', 67_108_864], ['1.5g', 1_610_612_736], ['100b', 100], ['1000', 1000]];
    for (const [written, bytes] of sizes) {
      it(`memory ${written} is ${bytes} bytes`, () => assert.equal(create(web(`deploy: {resources: {limits: {memory: ${written}}}}`)).HostConfig!.Memory, bytes));
    }
    it('cpus as a number or a string, in nano CPUs (truncated, like compose)', () => {
      assert.equal(create(web('deploy: {resources: {limits: {cpus: 0.5}}}')).HostConfig!.NanoCpus, 500_000_000);
      assert.equal(create(web('deploy: {resources: {limits: {cpus: "1.25"}}}')).HostConfig!.NanoCpus, 1_250_000_000);
      assert.equal(create(web('deploy: {resources: {limits: {cpus: "1.001"}}}')).HostConfig!.NanoCpus, 1_000_999_999, "int(1.001 * 1e9) in Python");
      assert.equal(errorOf(web('deploy: {resources: {limits: {cpus: lots}}}')), `${SOURCE}: services.web.deploy.resources.limits.cpus: must be a number of CPUs such as 0.5`);
      assert.equal(errorOf(web('deploy: {resources: {limits: {memory: 1t}}}')), `${SOURCE}: services.web.deploy.resources.limits.memory: must be a size such as 512m or 1g`);
    });
  });

  it('healthcheck: every field, in nanoseconds; a string test is CMD-SHELL; disable is NONE', () => {
    const o = create(web('healthcheck: {test: [CMD, "true"], interval: 5s, timeout: 1s, retries: 4, start_period: 1m, start_interval: 500ms}'));
    assert.deepEqual(o.Healthcheck, { Test: ['CMD', 'true'], Interval: 5e9, Timeout: 1e9, Retries: 4, StartPeriod: 60e9, StartInterval: 5e8 });
    assert.deepEqual(create(web('healthcheck: {test: "exit 0"}')).Healthcheck!.Test, ['CMD-SHELL', 'exit 0']);
    assert.deepEqual(create(web('healthcheck: {disable: true}')).Healthcheck!.Test, ['NONE']);
    assert.equal(create(web()).Healthcheck, undefined, "the image's own");
  });

  it('volumes: short binds (Binds, read-only), long binds and volumes (Mounts), named volumes', () => {
    const o = create(`services:
  web:
    image: busybox
    volumes:
      - ./conf:/conf:ro
      - data:/data
      - {type: bind, source: ./state, target: /state}
      - {type: volume, source: data, target: /data2, read_only: true}
volumes:
  data: {labels: {tier: db}}
`);
    assert.deepEqual(o.HostConfig!.Binds, ['/srv/app/conf:/conf:ro', 'shop_data:/data:rw']);
    assert.deepEqual(o.HostConfig!.Mounts, [
      { Type: 'volume', Source: 'shop_data', Target: '/data2', ReadOnly: true },
      { Type: 'bind', Source: '/srv/app/state', Target: '/state', ReadOnly: false },
    ]);
  });

  describe('depends_on', () => {
    const p = () => parse(`services:
  db: {image: busybox}
  migrate: {image: busybox, depends_on: {db: {condition: service_healthy}}}
  api:
    image: busybox
    depends_on:
      db: {condition: service_started, restart: true}
      migrate: {condition: service_completed_successfully}
  web: {image: busybox, depends_on: [api]}
`);
    it('short and long form, with conditions and restart', () => {
      assert.deepEqual(p().services.api!.dependsOn, { db: { condition: 'service_started', restart: true }, migrate: { condition: 'service_completed_successfully', restart: false } });
      assert.deepEqual(p().services.web!.dependsOn, { api: { condition: 'service_started', restart: false } });
    });

    it('a service others wait to complete successfully is a one-shot job; restart: true restarts the dependent', () => {
      assert.deepEqual(['db', 'migrate', 'api', 'web'].map((s) => completesOnce(p(), s)), [false, true, false, false]);
      assert.deepEqual(restartedWith(p()), { db: ['api'] });
    });

    it('refuses a long form without a condition, an unknown condition', () => {
      assert.equal(errorOf(web('depends_on: {db: {restart: true}}')), `${SOURCE}: services.web.depends_on.db.condition: required`);
      assert.match(errorOf(web('depends_on: {db: {condition: service_done}}')), /^\/srv\/app\/compose\.yml: services\.web\.depends_on\.db\.condition: must be one of service_started, service_healthy, service_completed_successfully$/);
    });
  });

  // Part of the compose specification Titan does not run gets one error naming the service and the field.
  const unsupported: [string, string, RegExp][] = [
    ['a service key', web('privileged: true'), /^\/srv\/app\/compose\.yml: services\.web: .*"privileged"/],
    ['swarm deploy keys', web('deploy: {replicas: 2}'), /^\/srv\/app\/compose\.yml: services\.web\.deploy: .*"replicas"/],
    ['resource reservations', web('deploy: {resources: {reservations: {memory: 1g}}}'), /^\/srv\/app\/compose\.yml: services\.web\.deploy\.resources: .*"reservations"/],
    ['a misspelt healthcheck field', web('healthcheck: {start_intervall: 1s}'), /^\/srv\/app\/compose\.yml: services\.web\.healthcheck: .*"start_intervall"/],
    ['depends_on required', 'services:\n  db: {image: x}\n  web: {image: x, depends_on: {db: {condition: service_started, required: false}}}', /^\/srv\/app\/compose\.yml: services\.web\.depends_on\.db: .*"required"/],
    ['bind options', web('volumes: [{type: bind, source: /a, target: /a, bind: {propagation: rshared}}]'), /^\/srv\/app\/compose\.yml: services\.web\.volumes\.0: .*"bind"/],
    ['tmpfs mounts', web('volumes: [{type: tmpfs, target: /t}]'), /^\/srv\/app\/compose\.yml: services\.web\.volumes\.0\.type: must be bind or volume$/],
    ['top-level networks', `${web()}\nnetworks: {}`, /^\/srv\/app\/compose\.yml: \(top level\): .*"networks"/],
  ];
  for (const [what, text, expected] of unsupported) {
    it(`refuses ${what} with one error naming the service and the field`, () => assert.match(errorOf(text), expected));
  }
});
