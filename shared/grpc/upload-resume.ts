// Part of the data-plane contract: the metadata keys of resumable uploads (PutDisk). A host agent
// marks each upload resumable; a storage agent keeps a resumable upload whose stream broke
// (agent/storage/parked-uploads.ts); the sender's next try of that disk asks to resume and is
// told, in the response's initial metadata, the index of the last block the remote holds (-1:
// none, the disk starts over).
export const RESUMABLE_KEY = 'deltachain-resumable';
export const RESUME_KEY = 'deltachain-resume';
export const RESUME_AFTER_KEY = 'deltachain-resume-after';
