// Control API: policies — create, edit, show, list, delete, enable/disable, run now. An edit that
// drops remotes or VMs, and a delete, queue the release of the reference snapshots the policy no
// longer needs on its pools (dispatch/queue-releases.ts).
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import * as catalogue from '../catalogue/index.js';
import { queueDeletedPolicyReleases, queueStaleReleases } from '../dispatch/queue-releases.js';
import { DeltachainError } from '../../shared/errors.js';
import { nextFireTime, parsePolicySettings, type Policy } from '../policy/index.js';
import { recordRun } from '../scheduler/index.js';
import type { ControlContext } from './control-context.js';
import { policyToWire, runToWire, settingsFromWire, taskToWire } from './to-wire.js';

async function describePolicy(ctx: ControlContext, policy: Policy): Promise<wire.Policy> {
  const latest = await catalogue.latestRunPerPolicy(ctx.sql);
  return policyToWire(policy, { nextRunAt: nextFireTime(policy.schedule, ctx.clock()), lastRun: latest.get(policy.id) });
}

export function policyHandlers(ctx: ControlContext) {
  return {
    async createPolicy(req: wire.CreatePolicyRequest): Promise<wire.CreatePolicyResponse> {
      const settings = parsePolicySettings(settingsFromWire(req.settings), 'policy');
      const policy = await catalogue.insertPolicy(ctx.sql, ctx.ids.uuid(), settings, ctx.clock());
      ctx.hooks.policiesChanged();
      return { policy: await describePolicy(ctx, policy) };
    },
    async updatePolicy(req: wire.UpdatePolicyRequest): Promise<wire.UpdatePolicyResponse> {
      const current = await catalogue.getPolicyByName(ctx.sql, req.name);
      const settings = parsePolicySettings(settingsFromWire(req.settings), `policy ${req.name}`);
      const policy = await catalogue.updatePolicy(ctx.sql, current.id, settings, ctx.clock());
      ctx.hooks.policiesChanged();
      // A crash before this leaves the releases to the policy's next run, which finds them too.
      const releases = await queueStaleReleases(ctx.sql, policy, { ids: ctx.ids, limits: ctx.limits, now: ctx.clock(), runId: null });
      if (releases.length > 0) ctx.hooks.tasksQueued();
      return { policy: await describePolicy(ctx, policy) };
    },
    async getPolicy(req: wire.GetPolicyRequest): Promise<wire.GetPolicyResponse> {
      return { policy: await describePolicy(ctx, await catalogue.getPolicyByName(ctx.sql, req.name)) };
    },
    async listPolicies(): Promise<wire.ListPoliciesResponse> {
      const [policies, latest] = await Promise.all([catalogue.listPolicies(ctx.sql), catalogue.latestRunPerPolicy(ctx.sql)]);
      const now = ctx.clock();
      return { policies: policies.map((p) => policyToWire(p, { nextRunAt: nextFireTime(p.schedule, now), lastRun: latest.get(p.id) })) };
    },
    async deletePolicy(req: wire.DeletePolicyRequest): Promise<wire.DeletePolicyResponse> {
      const policy = await catalogue.getPolicyByName(ctx.sql, req.name);
      if (await catalogue.hasUnfinishedRun(ctx.sql, policy.id)) {
        throw new DeltachainError('PRECONDITION', `policy ${req.name} has a run in progress; wait for it to finish (\`deltachain run list --policy ${req.name}\`) or disable the policy first`);
      }
      const now = ctx.clock();
      await ctx.sql.begin(async (tx) => {
        await queueDeletedPolicyReleases(tx, policy, { ids: ctx.ids, limits: ctx.limits, now, runId: null });
        await catalogue.deletePolicy(tx, req.name);
      });
      ctx.hooks.policiesChanged();
      ctx.hooks.tasksQueued();
      return {};
    },
    async setPolicyEnabled(req: wire.SetPolicyEnabledRequest): Promise<wire.SetPolicyEnabledResponse> {
      await catalogue.setPolicyEnabled(ctx.sql, req.name, req.enabled, ctx.clock());
      ctx.hooks.policiesChanged();
      return { policy: await describePolicy(ctx, await catalogue.getPolicyByName(ctx.sql, req.name)) };
    },
    async runPolicy(req: wire.RunPolicyRequest): Promise<wire.RunPolicyResponse> {
      const policy = await catalogue.getPolicyByName(ctx.sql, req.name);
      const now = ctx.clock();
      const onlyVms = req.vmUuids.length > 0 ? req.vmUuids.map((u) => u.toLowerCase()) : undefined;
      const recorded = await recordRun(ctx.sql, { policy, scheduledAt: now, trigger: 'manual', forceFull: req.forceFull, onlyVms }, ctx.ids, ctx.limits, now);
      ctx.hooks.tasksQueued();
      const [run, tasks] = await Promise.all([catalogue.getRun(ctx.sql, recorded.run.id), catalogue.listTasksOfRun(ctx.sql, recorded.run.id)]);
      return { run: { run: runToWire(run), tasks: tasks.map(taskToWire) } };
    },
  };
}
