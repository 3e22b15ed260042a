import assert from 'node:assert/strict';
import type { Environment } from '../../src/lib/config';
import { parseEnvironment } from '../../src/lib/environment';
import { resolveRecoveryPlan } from '../../src/lib/recovery-plan';
import { configErrorOf, example, variant } from '../helpers/example-environment';

// The example for the local stack describes Redis `main`, modules, configSync and logging;
// each test replaces its recovery section.
function withRecovery(recovery: unknown, change: (doc: any) => void = () => {}): string {
  return variant((doc) => {
    doc.recovery = recovery;
    change(doc);
  });
}

describe('recovery section of the environment file', () => {
  const approvers = { default: ['alice'] };
  const cases: [string, unknown, RegExp, ((d: any) => void)?][] = [
    ['missing approvers', { stages: ['redis'] }, /^titan\.yaml: recovery\.approvers: required: who signs off each stage$/],
    ['an empty approver list', { approvers: { default: [] } }, /^titan\.yaml: recovery\.approvers\.default: must name at least one approver$/],
    ['a stage nobody may sign off', { approvers: { redis: ['alice'] } }, /^titan\.yaml: recovery\.approvers\.modules: nobody may sign off stage modules/],
    ['a stage whose system is not configured', { stages: ['redis', 'config'], approvers }, /^titan\.yaml: recovery\.stages: stage config cannot run: the file has no configSync section$/, (d) => delete d.configSync],
    ['log resumption without a logging section', { stages: ['logs'], approvers }, /^titan\.yaml: recovery\.stages: stage logs cannot run: the file has no logging section$/, (d) => delete d.logging],
    ['an unknown stage', { stages: ['redis', 'dns'], approvers }, /^titan\.yaml: recovery\.stages\.1: must be one of redis, modules, config, logs$/],
    ['stages out of the plan order', { stages: ['modules', 'redis'], approvers }, /^titan\.yaml: recovery\.stages: must keep the plan's order/],
    ['an unknown Redis', { redis: 'cache', approvers }, /^titan\.yaml: recovery\.redis: no Redis instance named "cache"$/],
    ['a bad reminder duration', { approvers, signOff: { remindAfter: 'soon' } }, /^titan\.yaml: recovery\.signOff\.remindAfter: must be a duration/],
    ['an escalation not after the reminder', { approvers, signOff: { remindAfter: '2h', escalateAfter: '30m' } }, /^titan\.yaml: recovery\.signOff\.escalateAfter: must be longer than remindAfter$/],
    ['an inlined webhook URL', { approvers, webhook: { urlEnv: 'https://hooks.example/T0K3N' } }, /^titan\.yaml: recovery\.webhook\.urlEnv: must be an environment variable name/],
    ['a misspelt key', { approvers, approver: ['bob'] }, /^titan\.yaml: recovery: unknown key "approver" \(did you mean "approvers"\?\)$/],
    ['several Redis instances, none main, and a redis stage', { stages: ['redis'], approvers }, /^titan\.yaml: recovery\.stages: stage redis cannot run: several Redis instances and none named main/,
      (d) => { d.redis = { a: { ...d.redis.main }, b: { ...d.redis.main, dataDir: '/elsewhere' } }; d.backups.schedules = {}; d.configSync.redis = 'a'; }],
  ];
  for (const [what, recovery, expected, change] of cases) {
    it(`rejects ${what} with one error naming the field`, () => {
      assert.match(configErrorOf(withRecovery(recovery, change)), expected);
    });
  }

  it('the example for the local stack plans its stages, signed off by the operator', () => {
    assert.deepEqual(resolveRecoveryPlan(parseEnvironment(example, 'titan.yaml')).stages.map((s) => [s.name, s.approvers]), [['redis', ['operator']], ['modules', ['operator']], ['config', ['operator']], ['logs', ['operator']]]);
  });

  it('plans every configured stage by default, with the approvers and sign-off timing of the file', () => {
    const env = parseEnvironment(withRecovery({ approvers: { default: ['alice'], redis: ['alice', 'bob'] }, webhook: { urlEnv: 'TITAN_RECOVERY_WEBHOOK_URL' } }), 'titan.yaml');
    const plan = resolveRecoveryPlan(env, { incidentAt: '2026-11-25T09:00:00Z' });
    assert.deepEqual(plan.stages.map((s) => [s.name, s.childWorkflowType, s.approvers]), [
      ['redis', 'redisRestore', ['alice', 'bob']],
      ['modules', 'restoreModules', ['alice']],
      ['config', 'resyncConfig', ['alice']],
      ['logs', 'resumeLogs', ['alice']],
    ]);
    assert.deepEqual(plan.stages[0]!.args, [{ redis: 'main', before: '2026-11-25T09:00:00Z' }]);
    assert.equal(plan.remindAfterMs, 30 * 60_000);
    assert.equal(plan.escalateAfterMs, 2 * 3_600_000);
    assert.equal(plan.webhook, true);
  });

  it('with hosts: every instance but a replica source, one child each, routed to its host\'s queue', () => {
    const env = parseEnvironment(withRecovery({ approvers }, (d) => {
      d.hosts = { a: {}, b: { docker: { socketPath: '/run/b.sock' } } };
      d.redis.main.host = 'a';
      // The same path on another host is another directory.
      d.redis.sessions = { ...d.redis.main, host: 'b', url: 'redis://127.0.0.1:6391' };
      d.redis.replica = { ...d.redis.main, url: 'redis://127.0.0.1:6392', dataDir: '/var/lib/replica' };
      d.backups.schedules.hourly.from = 'replica';
      d.modules.host = 'b';
      d.configSync.host = 'a';
    }), 'titan.yaml');
    const redis = resolveRecoveryPlan(env).stages[0]!;
    assert.deepEqual(redis.parts, [
      { name: 'main', args: [{ redis: 'main', before: undefined, host: { host: 'a', taskQueue: 'titan-local-host-a' } }] },
      { name: 'sessions', args: [{ redis: 'sessions', before: undefined, host: { host: 'b', taskQueue: 'titan-local-host-b' } }] },
    ]);
    assert.equal(redis.summary, 'Restore Redis main, sessions from the latest valid backup');
  });

  it('counts log resumption as configured only when the file has a logging section', () => {
    const env = parseEnvironment(withRecovery({ approvers: { default: ['alice'] } }), 'titan.yaml');
    assert.deepEqual(resolveRecoveryPlan(env).stages.map((s) => s.name), ['redis', 'modules', 'config', 'logs']);
    const { logging: _, ...withoutLogging } = env;
    assert.deepEqual(resolveRecoveryPlan(withoutLogging as Environment).stages.map((s) => s.name), ['redis', 'modules', 'config']);
  });

  it('refuses to plan without a recovery section, or with an incident time that is not a time', () => {
    assert.throws(() => resolveRecoveryPlan(parseEnvironment(withRecovery(undefined, (d) => delete d.recovery), 'titan.yaml')), /no recovery section/);
    const env = parseEnvironment(withRecovery({ approvers: { default: ['alice'] } }), 'titan.yaml');
    assert.throws(() => resolveRecoveryPlan(env, { incidentAt: 'yesterday' }), /incident time "yesterday" is not a date and time/);
  });
});
