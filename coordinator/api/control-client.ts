// The CLI's side of the control API: a promise-returning client whose failures are
// ControlApiErrors (grpc-status.ts) that name the coordinator's address when it cannot be
// reached. Every call has a deadline; watches are async iterables.
import { type ChannelCredentials, type ClientReadableStream, type ServiceError, Metadata } from '@grpc/grpc-js';
import * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { fromServiceError } from './grpc-status.js';

type UnaryMethod<Req, Res> = (request: Req, metadata: Metadata, options: { deadline: Date }, callback: (error: ServiceError | null, response: Res) => void) => unknown;

export class ControlClient {
  private readonly client: wire.ControlServiceClient;

  constructor(readonly address: string, credentials: ChannelCredentials, private readonly timeoutMs = 30_000) {
    this.client = new wire.ControlServiceClient(address, credentials);
  }

  close(): void {
    this.client.close();
  }

  private call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, request, new Metadata(), { deadline: new Date(Date.now() + this.timeoutMs) }, (error, response) => {
        if (error) reject(fromServiceError(error, this.address));
        else resolve(response);
      });
    });
  }

  createPolicy = (r: wire.CreatePolicyRequest) => this.call<wire.CreatePolicyRequest, wire.CreatePolicyResponse>(this.client.createPolicy, r);
  updatePolicy = (r: wire.UpdatePolicyRequest) => this.call<wire.UpdatePolicyRequest, wire.UpdatePolicyResponse>(this.client.updatePolicy, r);
  getPolicy = (r: wire.GetPolicyRequest) => this.call<wire.GetPolicyRequest, wire.GetPolicyResponse>(this.client.getPolicy, r);
  listPolicies = (r: wire.ListPoliciesRequest = {}) => this.call<wire.ListPoliciesRequest, wire.ListPoliciesResponse>(this.client.listPolicies, r);
  deletePolicy = (r: wire.DeletePolicyRequest) => this.call<wire.DeletePolicyRequest, wire.DeletePolicyResponse>(this.client.deletePolicy, r);
  setPolicyEnabled = (r: wire.SetPolicyEnabledRequest) => this.call<wire.SetPolicyEnabledRequest, wire.SetPolicyEnabledResponse>(this.client.setPolicyEnabled, r);
  runPolicy = (r: wire.RunPolicyRequest) => this.call<wire.RunPolicyRequest, wire.RunPolicyResponse>(this.client.runPolicy, r);
  addPool = (r: wire.AddPoolRequest) => this.call<wire.AddPoolRequest, wire.AddPoolResponse>(this.client.addPool, r);
  listPools = (r: wire.ListPoolsRequest = {}) => this.call<wire.ListPoolsRequest, wire.ListPoolsResponse>(this.client.listPools, r);
  addRemote = (r: wire.AddRemoteRequest) => this.call<wire.AddRemoteRequest, wire.AddRemoteResponse>(this.client.addRemote, r);
  editRemote = (r: wire.EditRemoteRequest) => this.call<wire.EditRemoteRequest, wire.EditRemoteResponse>(this.client.editRemote, r);
  listRemotes = (r: wire.ListRemotesRequest = {}) => this.call<wire.ListRemotesRequest, wire.ListRemotesResponse>(this.client.listRemotes, r);
  scanRemote = (r: wire.ScanRemoteRequest) => this.call<wire.ScanRemoteRequest, wire.ScanRemoteResponse>(this.client.scanRemote, r);
  listAgents = (r: wire.ListAgentsRequest = {}) => this.call<wire.ListAgentsRequest, wire.ListAgentsResponse>(this.client.listAgents, r);
  listVms = (r: wire.ListVmsRequest) => this.call<wire.ListVmsRequest, wire.ListVmsResponse>(this.client.listVms, r);
  listBackups = (r: wire.ListBackupsRequest) => this.call<wire.ListBackupsRequest, wire.ListBackupsResponse>(this.client.listBackups, r);
  createMirror = (r: wire.CreateMirrorRequest) => this.call<wire.CreateMirrorRequest, wire.CreateMirrorResponse>(this.client.createMirror, r);
  listMirrors = (r: wire.ListMirrorsRequest = {}) => this.call<wire.ListMirrorsRequest, wire.ListMirrorsResponse>(this.client.listMirrors, r);
  deleteMirror = (r: wire.DeleteMirrorRequest) => this.call<wire.DeleteMirrorRequest, wire.DeleteMirrorResponse>(this.client.deleteMirror, r);
  runMirror = (r: wire.RunMirrorRequest) => this.call<wire.RunMirrorRequest, wire.RunMirrorResponse>(this.client.runMirror, r);
  listRuns = (r: wire.ListRunsRequest) => this.call<wire.ListRunsRequest, wire.ListRunsResponse>(this.client.listRuns, r);
  getRun = (r: wire.GetRunRequest) => this.call<wire.GetRunRequest, wire.GetRunResponse>(this.client.getRun, r);
  restore = (r: wire.RestoreRequest) => this.call<wire.RestoreRequest, wire.RestoreResponse>(this.client.restore, r);
  verify = (r: wire.VerifyRequest) => this.call<wire.VerifyRequest, wire.VerifyResponse>(this.client.verify, r);
  listAudit = (r: wire.ListAuditRequest) => this.call<wire.ListAuditRequest, wire.ListAuditResponse>(this.client.listAudit, r);
  getTask = (r: wire.GetTaskRequest) => this.call<wire.GetTaskRequest, wire.GetTaskResponse>(this.client.getTask, r);

  watchRun(request: wire.WatchRunRequest): AsyncIterable<wire.WatchRunResponse> {
    return this.stream(this.client.watchRun(request));
  }

  watchTask(request: wire.WatchTaskRequest): AsyncIterable<wire.WatchTaskResponse> {
    return this.stream(this.client.watchTask(request));
  }

  private async *stream<T>(call: ClientReadableStream<T>): AsyncGenerator<T> {
    try {
      for await (const message of call) yield message as T;
    } catch (error) {
      throw fromServiceError(error as ServiceError, this.address);
    } finally {
      call.cancel();
    }
  }
}
