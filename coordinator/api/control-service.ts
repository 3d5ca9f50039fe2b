// The control API service: every handler of proto deltachain.control.v1 wired to grpc-js.
import type { ControlServiceServer } from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { auditHandlers } from './audit-handlers.js';
import type { ControlContext } from './control-context.js';
import { inventoryHandlers } from './inventory-handlers.js';
import { mirrorHandlers } from './mirror-handlers.js';
import { policyHandlers } from './policy-handlers.js';
import { restoreHandlers } from './restore-handlers.js';
import { runHandlers } from './run-handlers.js';
import { serverStream, unary } from './unary.js';

export function controlService(ctx: ControlContext): ControlServiceServer {
  const p = policyHandlers(ctx);
  const i = inventoryHandlers(ctx);
  const r = runHandlers(ctx);
  const s = restoreHandlers(ctx);
  const a = auditHandlers(ctx);
  const m = mirrorHandlers(ctx);
  return {
    createPolicy: unary(p.createPolicy),
    updatePolicy: unary(p.updatePolicy),
    getPolicy: unary(p.getPolicy),
    listPolicies: unary(p.listPolicies),
    deletePolicy: unary(p.deletePolicy),
    setPolicyEnabled: unary(p.setPolicyEnabled),
    runPolicy: unary(p.runPolicy),
    addPool: unary(i.addPool),
    listPools: unary(i.listPools),
    addRemote: unary(i.addRemote),
    editRemote: unary(i.editRemote),
    listRemotes: unary(i.listRemotes),
    scanRemote: unary(i.scanRemote),
    listAgents: unary(i.listAgents),
    listVms: unary(i.listVms),
    listBackups: unary(i.listBackups),
    listRuns: unary(r.listRuns),
    getRun: unary(r.getRun),
    watchRun: serverStream(r.watchRun),
    getTask: unary(r.getTask),
    watchTask: serverStream(r.watchTask),
    restore: unary(s.restore),
    verify: unary(s.verify),
    listAudit: unary(a.listAudit),
    createMirror: unary(m.createMirror),
    listMirrors: unary(m.listMirrors),
    deleteMirror: unary(m.deleteMirror),
    runMirror: unary(m.runMirror),
  };
}
