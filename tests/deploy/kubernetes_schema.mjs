// Checks deploy/kubernetes-sidecar.yaml against the Kubernetes API schema (the
// kubernetes-models npm package, pinned in tests/deploy/package-lock.json), and that its
// ConfigMap holds the same memvisord config as deploy/compose/memvisord.yaml.
//   node tests/deploy/kubernetes_schema.mjs deploy/kubernetes-sidecar.yaml deploy/compose/memvisord.yaml
// Exit 0: valid; 1: a problem (each printed with the document and the path); 77: the npm
// packages are not installed (bash .ci/bootstrap installs them), reported as a skip.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let YAML, models, version;
try {
  YAML = await import('yaml');
  models = {
    v1: await import('kubernetes-models/v1'),
    'apps/v1': await import('kubernetes-models/apps/v1'),
  };
  version = require('./node_modules/kubernetes-models/package.json').version;
} catch (e) {
  console.log(`SKIPPED: npm packages missing in tests/deploy/node_modules (npm ci): ${e.message}`);
  process.exit(77);
}

const [manifestPath, composeConfigPath] = process.argv.slice(2);
const problems = [];
const docs = YAML.parseAllDocuments(fs.readFileSync(manifestPath, 'utf8'));
const seen = [];
for (const [i, doc] of docs.entries()) {
  if (doc.errors.length) {
    problems.push(`document ${i}: YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    continue;
  }
  const obj = doc.toJS();
  const where = `document ${i} (${obj.kind} ${obj.metadata && obj.metadata.name})`;
  const Model = models[obj.apiVersion] && models[obj.apiVersion][obj.kind];
  if (!Model) {
    problems.push(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    problems.push(`${where}: ${e.message}`);
    continue;
  }
  seen.push(obj);
}

const cm = seen.find((o) => o.kind === 'ConfigMap');
const deploy = seen.find((o) => o.kind === 'Deployment');
if (!cm || !deploy) problems.push('expected a ConfigMap and a Deployment');
if (deploy) {
  const spec = deploy.spec.template.spec;
  const sidecar = (spec.initContainers || []).find((c) => c.name === 'memvisord');
  if (!spec.shareProcessNamespace) problems.push('Deployment: shareProcessNamespace must be true');
  if (!sidecar || sidecar.restartPolicy !== 'Always') {
    problems.push('Deployment: memvisord must be a native sidecar (initContainers, restartPolicy: Always)');
  }
}
if (cm && composeConfigPath) {
  const compose = fs.readFileSync(composeConfigPath, 'utf8');
  if (cm.data['memvisord.yaml'] !== compose) {
    problems.push(`ConfigMap memvisord.yaml differs from ${path.basename(composeConfigPath)}`);
  }
}

for (const p of problems) console.log(`${manifestPath}: ${p}`);
if (problems.length) process.exit(1);
console.log(`${manifestPath}: ${docs.length} documents valid against the Kubernetes schema (kubernetes-models ${version})`);
