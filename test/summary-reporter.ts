// mocha's spec output, then one line CI reads: "N passed, N failed".
import Mocha from 'mocha';

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats!;
      // Registered after Spec's epilogue (in super), so this is the last line.
      console.log(`${s.passes} passed, ${s.failures} failed`);
    });
  }
}

export = SummaryReporter;
