// What a full-disaster recovery knows about itself (the recoveryStatus Query) and the report it
// leaves beside the backups (seed plan §5: document the recovery): each stage's timeline, RTO per
// stage and in total, RPO, every sign-off, the problems met. Pure, so workflows may import it.
import type { StageName } from './config';

export const DECISIONS = ['approve', 'reject', 'retry'] as const;
export type Decision = (typeof DECISIONS)[number];

/** A person's decision on a stage waiting for sign-off (the signOff Update's and Signal's payload). */
export interface SignOff {
  stage: StageName;
  decision: Decision;
  by: string;
  comment?: string;
}

export interface SignedOff extends SignOff {
  attempt: number;
  at: string;
  /** 'update' or 'signal': how it arrived; 'auto': a drill signed it off itself. */
  via: 'update' | 'signal' | 'auto';
}

export interface StageAttempt {
  attempt: number;
  childWorkflowId: string;
  startedAt: string;
  endedAt?: string;
  outcome: 'running' | 'succeeded' | 'failed';
  /** What the child workflow did, or why it failed. */
  summary?: string;
}

export type StageState = 'pending' | 'running' | 'awaiting sign-off' | 'failed' | 'approved' | 'rejected';

export interface StageStatus {
  name: StageName;
  summary: string;
  approvers: string[];
  state: StageState;
  attempts: StageAttempt[];
  signOffs: SignedOff[];
  /** Reminders and escalations sent while it waited. */
  notices: { kind: NoticeKind; at: string; delivered: boolean }[];
  /** While its work waits for a host's worker: "waiting for a worker on host B (queue …)", one per host. */
  waitingFor?: string[];
}

export type NoticeKind = 'reminder' | 'escalation';

export interface Waiting {
  stage: StageName;
  attempt: number;
  since: string;
  /** Who may sign it off, and which decisions are possible (after a failure: retry or reject). */
  approvers: string[];
  decisions: Decision[];
}

export interface RecoveryStatus {
  workflowId: string;
  environment: string;
  outcome: 'running' | 'completed' | 'rejected' | 'aborted';
  startedAt: string;
  endedAt?: string;
  incidentAt?: string;
  /** The stage running or waiting. */
  current?: StageName;
  waiting?: Waiting;
  stages: StageStatus[];
  /** When the restored snapshot was taken (from the redis stage's result). */
  snapshot?: { backupId: string; takenAt: string };
  warnings: string[];
  problems: string[];
  /** Set when this is a drill against sandbox targets (src/lib/drill.ts), not a recovery of production. */
  drill?: DrillFacts;
}

export interface DrillFacts {
  /** Whether the drill signed its verified stages off itself (ending at the first failed one). */
  autoSignOff: boolean;
  /** What removing the sandbox removed (recorded by the recoveryDrill workflow). */
  cleanedUp?: string[];
  /** Why (part of) the sandbox was not removed. */
  cleanupProblem?: string;
}

export interface RecoveryReport extends RecoveryStatus {
  runId: string;
  /** Start of the recovery to each stage's approval, and to the last approval. */
  rto: { totalMs?: number; stages: { stage: StageName; ms?: number }[] };
  /** Incident time minus the restored snapshot's time: the data lost at most. */
  rpo?: { ms: number; incidentAt: string; incidentAssumed: boolean; snapshotAt: string; backupId: string };
}

const msBetween = (from: string, to: string) => Date.parse(to) - Date.parse(from);

/** The report of a recovery as it ends; with no incident time given, the recovery's start stands in for it. */
export function recoveryReport(status: RecoveryStatus, runId: string): RecoveryReport {
  const approvedAt = (s: StageStatus) => s.signOffs.find((x) => x.decision === 'approve')?.at;
  const stages = status.stages.map((s) => ({ stage: s.name, ms: approvedAt(s) && s.attempts[0] ? msBetween(s.attempts[0].startedAt, approvedAt(s)!) : undefined }));
  const lastApproval = status.outcome === 'completed' ? approvedAt(status.stages[status.stages.length - 1]!) : undefined;
  const incidentAt = status.incidentAt ?? status.startedAt;
  const snap = status.snapshot;
  return {
    ...status,
    runId,
    rto: { totalMs: lastApproval ? msBetween(status.startedAt, lastApproval) : undefined, stages },
    rpo: snap && { ms: msBetween(snap.takenAt, incidentAt), incidentAt, incidentAssumed: !status.incidentAt, snapshotAt: snap.takenAt, backupId: snap.backupId },
  };
}

/** What a stage's child workflow returned, in one line; results are read as untyped JSON. */
export function describeStageResult(stage: StageName, result: unknown): { summary: string; snapshot?: RecoveryStatus['snapshot']; warnings: string[]; problems: string[] } {
  const r = (result ?? {}) as Record<string, any>;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const out = { warnings: strings(r.warnings), problems: strings(r.problems) };
  switch (stage) {
    case 'redis': {
      const b = r.backup ?? {};
      const takenAt = b.createdAt ?? b.takenAt;
      return { ...out, summary: `restored ${b.backupId ?? 'a backup'}${takenAt ? ` (taken ${takenAt})` : ''} into Redis ${r.target ?? '?'} and verified it`, snapshot: b.backupId && takenAt ? { backupId: b.backupId, takenAt } : undefined };
    }
    case 'modules': {
      const outcomes = Array.isArray(r.outcomes) ? r.outcomes : [];
      return { ...out, summary: outcomes.length ? `redeployed ${outcomes.map((o: { service?: string }) => o.service).join(', ')}` : 'every module was healthy: nothing redeployed' };
    }
    case 'config':
      return { ...out, summary: typeof r.commit === 'string' ? `applied ${r.commit.slice(0, 12)}${r.subject ? ` (${r.subject})` : ''}` : 'configuration re-synced' };
    case 'logs':
      return { ...out, summary: typeof r.summary === 'string' ? r.summary : `log shipping resumed${out.warnings.length ? ` with ${out.warnings.length} warning(s)` : ''}` };
  }
}

const human = (ms: number | undefined) => {
  if (ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`;
};

/** The report for people: Markdown, the same facts as the JSON. */
export function renderRecoveryReport(r: RecoveryReport): string {
  const d = r.drill;
  const lines = [
    `# ${d ? 'Drill' : 'Recovery'} of ${r.environment}: ${r.outcome}`,
    '',
    `- Workflow: \`${r.workflowId}\` (run \`${r.runId}\`)`,
    `- Started: ${r.startedAt}; ended: ${r.endedAt ?? '—'}`,
    `- Incident: ${r.incidentAt ?? 'not given (the recovery start is used)'}`,
    `- RTO (start to last stage approved): ${human(r.rto.totalMs)}`,
    ...(d ? [
      `- Drill against sandbox targets; sign-offs ${d.autoSignOff ? `automatic (each verified stage approved, ending at the first failed one)` : 'by people'}; the RTO above is the drill's measured RTO`,
      `- Sandbox removed: ${d.cleanedUp?.length ? d.cleanedUp.join('; ') : 'nothing'}${d.cleanupProblem ? `; NOT removed: ${d.cleanupProblem}` : ''}`,
    ] : []),
    r.rpo ? `- RPO: ${human(r.rpo.ms)} (snapshot ${r.rpo.backupId} taken ${r.rpo.snapshotAt}; incident ${r.rpo.incidentAt}${r.rpo.incidentAssumed ? ', assumed' : ''})` : '- RPO: unknown (no Redis snapshot restored)',
    '',
    '## Stages',
    '',
    '| stage | state | attempts | started | ended | RTO | result |',
    '|---|---|---|---|---|---|---|',
    ...r.stages.map((s) => {
      const first = s.attempts[0];
      const last = s.attempts[s.attempts.length - 1];
      const cell = (t: string | undefined) => (t ?? '—').replace(/\|/g, '\\|');
      return `| ${s.name} | ${s.state} | ${s.attempts.length} | ${cell(first?.startedAt)} | ${cell(last?.endedAt)} | ${human(r.rto.stages.find((x) => x.stage === s.name)?.ms)} | ${cell(last?.summary)} |`;
    }),
    '',
    '## Attempts',
    '',
    ...r.stages.flatMap((s) => s.attempts.map((a) => `- ${s.name} #${a.attempt} \`${a.childWorkflowId}\`: ${a.outcome}, ${a.startedAt} → ${a.endedAt ?? '—'}${a.summary ? `: ${a.summary}` : ''}`)),
    '',
    '## Sign-offs',
    '',
    ...r.stages.flatMap((s) => [
      ...s.signOffs.map((x) => `- ${x.at} ${x.stage} #${x.attempt}: **${x.decision}** by ${x.by} (${x.via})${x.comment ? `: ${x.comment}` : ''}`),
      ...s.notices.map((n) => `- ${n.at} ${s.name}: ${n.kind} ${n.delivered ? 'sent to the webhook' : 'not sent (no webhook, or it failed)'}`),
    ]),
    '',
    '## Problems and warnings',
    '',
    ...(r.problems.length + r.warnings.length ? [...r.problems.map((p) => `- problem: ${p}`), ...r.warnings.map((w) => `- warning: ${w}`)] : ['- none']),
    '',
  ];
  return lines.join('\n');
}
