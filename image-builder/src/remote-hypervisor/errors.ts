// What can go wrong in the remote-hypervisor service, free of wire concerns; server.ts maps each
// kind to a gRPC status once.
export type RemoteHypervisorErrorKind =
  | 'invalid'
  | 'not-found'
  | 'exists'
  | 'failed-precondition'
  | 'boot-failed'
  | 'deadline'
  | 'cancelled';

export class RemoteHypervisorError extends Error {
  constructor(readonly kind: RemoteHypervisorErrorKind, message: string) {
    super(message);
    this.name = 'RemoteHypervisorError';
  }
}
