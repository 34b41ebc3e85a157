// The table the agent reads its schema from is generated from the .proto files
// (scripts/proto-descriptor.mjs); it must say what they say.
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { DESCRIPTOR_FILE, generateDescriptor } from '../../scripts/proto-descriptor.mjs';

test('descriptor.generated.ts is up to date with the .proto files (node scripts/proto-descriptor.mjs)', () => {
  expect(readFileSync(DESCRIPTOR_FILE, 'utf8')).toBe(generateDescriptor());
});
