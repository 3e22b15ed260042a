// Start order from "what depends on what", for compose services and Kubernetes workloads alike. Pure.

/** Each wave's modules depend only on earlier waves (or on modules outside `only`); throws on a cycle. */
export function wavesOf(dependsOn: Record<string, string[]>, only: string[]): string[][] {
  const pending = new Set(only);
  const waves: string[][] = [];
  while (pending.size) {
    const wave = [...pending].filter((n) => (dependsOn[n] ?? []).every((d) => !pending.has(d))).sort();
    if (!wave.length) throw new Error(`dependency cycle among ${[...pending].sort().join(', ')}`);
    for (const n of wave) pending.delete(n);
    waves.push(wave);
  }
  return waves;
}
