// Whether a Redis is an up-to-date replica of a given primary, from its INFO replication. Backups
// taken from a replica (so the primary never forks) are only as good as this answer. Pure.

export interface ReplicaProblem {
  /** A link that is down may come back; a Redis replicating something else will not change. */
  retryable: boolean;
  message: string;
}

export function replicaProblem(replication: string, replica: string, primary: { name: string; address: string }): ReplicaProblem | undefined {
  const field = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(replication)?.[1]?.trim();
  const role = field('role');
  if (role !== 'slave') return { retryable: false, message: `Redis ${replica} is not a replica (role ${role ?? 'unknown'}): it cannot stand in for ${primary.name}` };
  const master = `${field('master_host')}:${field('master_port')}`;
  if (master !== primary.address) return { retryable: false, message: `Redis ${replica} replicates ${master}, not ${primary.name} at ${primary.address}` };
  const link = field('master_link_status');
  if (link !== 'up') return { retryable: true, message: `Redis ${replica}'s link to ${primary.name} is ${link ?? 'unknown'}: its data may be stale` };
  return undefined;
}
