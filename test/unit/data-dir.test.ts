// Replacing a data directory and rolling it back, including an activity retried after a crash
// between any two steps: the end state must be the same as an uninterrupted run.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type DataDirPlan, placeSnapshot, restorePrevious, stagingDir } from '../../src/infra/data-dir';

describe('data directory replacement', function () {
  let dir: string;
  const files = { dbfilename: 'dump.rdb', appenddirname: 'appendonlydir', appendfilename: 'appendonly.aof' };
  const plan = (appendonly: boolean): DataDirPlan => ({ dataDir: dir, files: { ...files, appendonly }, owner: { uid: process.getuid!(), gid: process.getgid!() } });
  const stage = (content: string) => {
    mkdirSync(stagingDir(dir), { recursive: true });
    const f = path.join(stagingDir(dir), 'b1.rdb');
    writeFileSync(f, content);
    return f;
  };
  const read = (...p: string[]) => readFileSync(path.join(dir, ...p), 'utf8');

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'titan-datadir-'));
    writeFileSync(path.join(dir, 'dump.rdb'), 'old rdb');
    mkdirSync(path.join(dir, 'appendonlydir'));
    writeFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.3.base.rdb'), 'old aof');
    writeFileSync(path.join(dir, 'redis.conf'), 'not ours to move');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('RDB mode: the snapshot becomes dump.rdb (mode 600); the old files go aside and come back on rollback', function () {
    const { rollbackDir } = placeSnapshot(plan(false), stage('new rdb'), 'r1');
    assert.equal(read('dump.rdb'), 'new rdb');
    assert.equal(statSync(path.join(dir, 'dump.rdb')).mode & 0o777, 0o600);
    assert.equal(existsSync(path.join(dir, 'appendonlydir')), false, 'an old AOF would shadow the snapshot if AOF were turned on');
    assert.equal(readFileSync(path.join(rollbackDir, 'dump.rdb'), 'utf8'), 'old rdb');
    assert.equal(read('redis.conf'), 'not ours to move');

    restorePrevious(plan(false), 'r1');
    assert.equal(read('dump.rdb'), 'old rdb');
    assert.equal(read('appendonlydir', 'appendonly.aof.3.base.rdb'), 'old aof');
    assert.equal(readFileSync(path.join(rollbackDir, 'failed', 'dump.rdb'), 'utf8'), 'new rdb');
  });

  it('AOF mode: the snapshot becomes the base of a fresh AOF directory with an empty incr file and a manifest', function () {
    placeSnapshot(plan(true), stage('new rdb'), 'r1');
    assert.deepEqual(readdirSync(path.join(dir, 'appendonlydir')).sort(), ['appendonly.aof.1.base.rdb', 'appendonly.aof.1.incr.aof', 'appendonly.aof.manifest']);
    assert.equal(read('appendonlydir', 'appendonly.aof.1.base.rdb'), 'new rdb');
    assert.equal(read('appendonlydir', 'appendonly.aof.1.incr.aof'), '');
    assert.equal(existsSync(path.join(dir, 'dump.rdb')), false);
  });

  it('retried after a crash at any point, placing and rolling back end as an uninterrupted run does', function () {
    // Crash 1: after moving dump.rdb aside only. Crash 2: after placing, before the marker.
    const p = plan(false);
    const staged = stage('new rdb');
    const rb = path.join(dir, '.titan-rollback', 'r1');
    mkdirSync(rb, { recursive: true });
    writeFileSync(path.join(rb, 'dump.rdb'), read('dump.rdb'));
    rmSync(path.join(dir, 'dump.rdb'));
    placeSnapshot(p, staged, 'r1');
    rmSync(path.join(rb, '.placed'));
    placeSnapshot(p, staged, 'r1'); // staged file already consumed: must not fail or move anything
    assert.equal(read('dump.rdb'), 'new rdb');
    assert.equal(readFileSync(path.join(rb, 'dump.rdb'), 'utf8'), 'old rdb');
    assert.equal(read('.titan-rollback', 'r1', 'appendonlydir', 'appendonly.aof.3.base.rdb'), 'old aof');

    restorePrevious(p, 'r1');
    rmSync(path.join(rb, '.rolled-back'));
    restorePrevious(p, 'r1'); // a retry must not move the old files into failed/
    assert.equal(read('dump.rdb'), 'old rdb');
    assert.equal(read('appendonlydir', 'appendonly.aof.3.base.rdb'), 'old aof');
    assert.equal(readFileSync(path.join(rb, 'failed', 'dump.rdb'), 'utf8'), 'new rdb');
  });
});
