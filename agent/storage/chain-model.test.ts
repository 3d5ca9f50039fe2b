import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiskType } from '../../shared/vhd/index.js';
import { ancestry, chainsOf, modelFolder, neededNames, type ChainFile } from './chain-model.js';

const full = (name: string, uuid: string): ChainFile => ({ name, footerUuid: uuid, diskType: DiskType.Dynamic, parentUuid: undefined, parentName: undefined });
const delta = (name: string, uuid: string, parent: string, parentUuid: string): ChainFile => ({
  name,
  footerUuid: uuid,
  diskType: DiskType.Differencing,
  parentUuid,
  parentName: parent,
});

const files = [
  full('a.vhd', 'u-a'),
  delta('b.vhd', 'u-b', 'a.vhd', 'u-a'),
  delta('c.vhd', 'u-c', 'b.vhd', 'u-b'),
  delta('x.vhd', 'u-x', 'gone.vhd', 'u-gone'), // parent missing
  delta('y.vhd', 'u-y', 'a.vhd', 'u-wrong'), // names a parent whose uuid does not match
  full('n.vhd', 'u-n'), // a second chain
];

test('parents need both the name and the uuid; everything else is an orphan', () => {
  const model = modelFolder(files);
  assert.deepEqual([...model.parent].map(([c, p]) => [c, p.name]), [['b.vhd', 'a.vhd'], ['c.vhd', 'b.vhd']]);
  assert.deepEqual(model.orphans.map((f) => f.name), ['x.vhd', 'y.vhd']);
  assert.deepEqual(ancestry(model, files[2]!).map((f) => f.name), ['c.vhd', 'b.vhd', 'a.vhd']);
});

test('needed = committed files and their ancestors; chains follow needed files only', () => {
  const model = modelFolder(files);
  const needed = neededNames(model, ['c.vhd', 'n.vhd']);
  assert.deepEqual([...needed].sort(), ['a.vhd', 'b.vhd', 'c.vhd', 'n.vhd']);
  assert.deepEqual(chainsOf(model, needed).map((c) => c.map((f) => f.name)), [['a.vhd', 'b.vhd', 'c.vhd'], ['n.vhd']]);
  assert.deepEqual(chainsOf(model, neededNames(model, ['b.vhd'])).map((c) => c.map((f) => f.name)), [['a.vhd', 'b.vhd']]);
});

test('a parent loop ends the ancestry instead of spinning', () => {
  const loop = [delta('p.vhd', 'u-p', 'q.vhd', 'u-q'), delta('q.vhd', 'u-q', 'p.vhd', 'u-p')];
  const model = modelFolder(loop);
  assert.deepEqual(ancestry(model, loop[0]!).map((f) => f.name), ['p.vhd', 'q.vhd']);
});
