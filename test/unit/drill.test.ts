import assert from 'node:assert/strict';
import { parseEnvironment } from '../../src/lib/environment';
import { drillEnvironment } from '../../src/lib/drill';
import { resolveRecoveryPlan } from '../../src/lib/recovery-plan';
import { desiredSchedules } from '../../src/cli/schedules';
import { configErrorOf, example, variant } from '../helpers/example-environment';

// The example for the local stack has a drill section for its four stages; each test changes it,
// some with a configSync section of their own.
const configSync = { repo: 'https://git.example/titan-config.git', redis: 'main', filesRoot: '.titan/data/config' };

const withDrill = (change: (drill: any, doc: any) => void) => variant((doc) => change(doc.recovery.drill, doc));
/** Production's modules on Kubernetes (namespace prod), the drill's sandbox namespace prod-drill; only the modules stage planned. */
const onKubernetes = (d: any, doc: any) => {
  doc.modules = { kubernetes: { kubeconfig: '.titan/kubeconfig', namespace: 'prod', selector: 'titan.io/module=true' }, registry: doc.modules.registry };
  doc.recovery.stages = ['modules'];
  d.modules = { kubernetes: { namespace: 'prod-drill' } };
};

describe('recovery.drill section and the sandbox environment', () => {
  const cases: [string, (d: any, doc: any) => void, RegExp][] = [
    ["production Redis's port", (d) => { d.redis.port = 6390; }, /^titan\.yaml: recovery\.drill\.redis\.port: port 6390 is production Redis main's$/],
    ["production Redis's data dir", (d) => { d.redis.dataDir = '.titan/data/redis/'; }, /^titan\.yaml: recovery\.drill\.redis\.dataDir: the data directory of production Redis main$/],
    ["production's compose project", (d) => { d.modules.project = 'titan-modules'; }, /^titan\.yaml: recovery\.drill\.modules\.project: production's compose project titan-modules$/],
    ["production's compose file", (d) => { d.modules.composeFile = './deploy/modules.compose.yaml'; }, /^titan\.yaml: recovery\.drill\.modules\.composeFile: production's compose file/],
    ["production's namespace for the Kubernetes sandbox", (d, doc) => { onKubernetes(d, doc); d.modules.kubernetes.namespace = 'prod'; }, /^titan\.yaml: recovery\.drill\.modules\.kubernetes\.namespace: production's namespace prod: the drill creates and deletes its sandbox namespace$/],
    ['a compose sandbox for modules on Kubernetes', (d, doc) => { onKubernetes(d, doc); d.modules = { project: 'x-drill', composeFile: 'x.yaml' }; }, /^titan\.yaml: recovery\.drill\.modules\.kubernetes: production's modules run on Kubernetes: the drill's sandbox is another namespace, set here$/],
    ['a namespace sandbox for compose modules', (d) => { d.modules = { kubernetes: { namespace: 'prod-drill' } }; }, /^titan\.yaml: recovery\.drill\.modules\.kubernetes: production's modules run by Docker Compose/],
    ['both a compose project and a namespace', (d) => { d.modules.kubernetes = { namespace: 'prod-drill' }; }, /^titan\.yaml: recovery\.drill\.modules: needs exactly one of composeFile \(with project\) or kubernetes$/],
    ['a sandbox namespace that is not a namespace name', (d, doc) => { onKubernetes(d, doc); d.modules.kubernetes.namespace = 'Prod_Drill'; }, /^titan\.yaml: recovery\.drill\.modules\.kubernetes\.namespace: must be a namespace name/],
    ["production's files root", (d, doc) => { doc.configSync = configSync; d.config = { filesRoot: '.titan/data/config' }; }, /^titan\.yaml: recovery\.drill\.config\.filesRoot: production's files root$/],
    ["production's log label", (d) => { d.logs.label = 'local'; }, /^titan\.yaml: recovery\.drill\.logs\.label: production's log label local/],
    ['a planned stage without its sandbox', (d) => { delete d.modules; }, /^titan\.yaml: recovery\.drill\.modules: stage modules of the recovery plan needs a sandbox setting here$/],
    ['the config stage without a sandbox Redis', (d, doc) => { doc.configSync = configSync; doc.recovery.stages = ['config']; delete d.redis; d.config = { filesRoot: '/tmp/drill-config' }; }, /^titan\.yaml: recovery\.drill\.redis: stage config of the recovery plan needs a sandbox setting here$/],
    ['a port that is not a number', (d) => { d.redis.port = 'high'; }, /^titan\.yaml: recovery\.drill\.redis\.port: /],
    ['a bad schedule', (d) => { d.schedule = { cron: 'weekly' }; }, /^titan\.yaml: recovery\.drill\.schedule\.cron: must be a 5-field cron expression$/],
    ['a misspelt key', (d) => { d.autoSignoff = false; }, /^titan\.yaml: recovery\.drill: unknown key "autoSignoff" \(did you mean "autoSignOff"\?\)$/],
  ];
  for (const [what, change, expected] of cases) {
    it(`refuses ${what}, naming the field`, () => assert.match(configErrorOf(withDrill(change)), expected));
  }

  it('a stage outside the plan needs no sandbox', () => {
    const env = parseEnvironment(withDrill((d, doc) => { doc.recovery.stages = ['redis']; delete d.modules; delete d.logs; }), 'titan.yaml');
    assert.deepEqual(Object.keys(drillEnvironment(env).redis), ['main']);
  });

  it('derives the sandbox: the plan\'s Redis on the sandbox port in container titan-drill-<env>-redis, the drill project, label and queue, the same backups without schedules', () => {
    const prod = parseEnvironment(withDrill((d, doc) => { doc.configSync = configSync; d.config = { filesRoot: '.titan/drill/config' }; doc.redis.cache = { ...doc.redis.main, url: 'redis://127.0.0.1:6392', dataDir: '.titan/data/cache' }; }), 'titan.yaml');
    const env = drillEnvironment(prod);
    assert.equal(env.environment, 'local-drill');
    assert.equal(env.taskQueue, 'titan-recovery-drill');
    assert.deepEqual(env.redis, {
      main: { url: 'redis://127.0.0.1:6391', passwordEnv: 'TITAN_REDIS_PASSWORD', runAs: { container: 'titan-drill-local-redis', owner: '999:999' }, dataDir: '.titan/drill/redis', persistence: 'rdb' },
    }, 'only the plan\'s instance, with production\'s password');
    assert.deepEqual([env.modules?.project, env.modules?.composeFile, env.modules?.probes], ['titan-local-drill', 'deploy/modules.drill.compose.yaml', {}]);
    assert.deepEqual(env.modules?.registry, prod.modules?.registry);
    assert.deepEqual([env.configSync?.filesRoot, env.configSync?.redis, env.configSync?.repo], ['.titan/drill/config', 'main', configSync.repo]);
    assert.equal(env.logging?.label, 'local-drill');
    assert.deepEqual(env.logging?.store, prod.logging?.store);
    assert.deepEqual(env.backups.locations, prod.backups.locations);
    assert.deepEqual(env.backups.schedules, {});
    assert.equal(env.metrics, undefined);
    assert.equal(env.recovery?.drill, undefined);
    assert.deepEqual(resolveRecoveryPlan(env).stages.map((s) => [s.name, s.approvers]), resolveRecoveryPlan(prod).stages.map((s) => [s.name, s.approvers]), 'the same stages and approvers');
    assert.deepEqual(prod.redis.main?.url, 'redis://127.0.0.1:6390', 'production is not changed');
  });

  it('derives the Kubernetes sandbox: production\'s cluster and selector, the sandbox namespace', () => {
    const prod = parseEnvironment(withDrill(onKubernetes), 'titan.yaml');
    const env = drillEnvironment(prod);
    assert.deepEqual(env.modules?.kubernetes, { ...prod.modules!.kubernetes, namespace: 'prod-drill' });
    assert.deepEqual([env.modules?.project, env.modules?.composeFile], [undefined, undefined]);
    assert.equal(prod.modules?.kubernetes?.namespace, 'prod', 'production is not changed');
  });

  it('leaves out the systems the plan does not recover', () => {
    const env = drillEnvironment(parseEnvironment(withDrill((_d, doc) => { doc.recovery.stages = ['redis']; }), 'titan.yaml'));
    assert.deepEqual([env.modules, env.configSync, env.logging], [undefined, undefined, undefined]);
    assert.deepEqual(env.recovery?.stages, ['redis']);
  });

  it('a drill schedule becomes the Schedule titan-<env>-drill starting recoveryDrill on production\'s queue', () => {
    const env = parseEnvironment(withDrill((d) => { d.schedule = { cron: '0 4 * * 0' }; }), 'titan.yaml');
    const s = desiredSchedules(env).find((x) => x.scheduleId === 'titan-local-drill');
    assert.deepEqual(s?.spec, { cronExpressions: ['0 4 * * 0'] });
    assert.deepEqual([s?.action.workflowType, s?.action.taskQueue, s?.action.args], ['recoveryDrill', 'titan-recovery', [{}]]);
    assert.equal(desiredSchedules(parseEnvironment(example, 'titan.yaml')).some((x) => x.scheduleId === 'titan-local-drill'), false, 'none without a cron');
  });
});
