/**
 * Who may see and change an image, as Glance's default policy has it: an admin everything; the
 * owner its own; anyone a `public` or `community` image; a member a `shared` image it was added to.
 * Making an image `public` is for admins only. The default list shows public images, the caller's
 * own, and shared images it accepted; community images only when asked for (`visibility=community`).
 */
import type { Caller } from '../auth.js';
import type { ImageRecord, MemberStatus } from './catalog.js';
import { glance } from './glance-errors.js';
import type { ListQuery } from './glance-wire.js';

export function canSee(c: Caller, img: ImageRecord, membership: MemberStatus | undefined): boolean {
  if (c.isAdmin || img.owner === c.projectId) return true;
  if (img.visibility === 'public' || img.visibility === 'community') return true;
  return img.visibility === 'shared' && membership !== undefined;
}

export function isListed(c: Caller, img: ImageRecord, membership: MemberStatus | undefined, q: ListQuery): boolean {
  if (!canSee(c, img, membership)) return false;
  const own = c.isAdmin || img.owner === c.projectId;
  const memberOk = own || q.memberStatus === 'all' || membership === q.memberStatus;
  if (q.visibility === 'all') return img.visibility !== 'shared' || memberOk;
  if (q.visibility !== undefined) return img.visibility === q.visibility && (img.visibility !== 'shared' || memberOk);
  if (img.visibility === 'community') return img.owner === c.projectId;
  if (img.visibility === 'shared') return memberOk;
  return true;
}

/** Changing an image: its owner or an admin (a visible image of someone else: 403). */
export function mustOwn(c: Caller, img: ImageRecord, action: string): void {
  if (!c.isAdmin && img.owner !== c.projectId)
    throw glance.forbidden(`You are not permitted to ${action} image ${img.id}: it belongs to another project.`);
}

/** `public` (and changing a public image's visibility) needs an admin: policy publicize_image. */
export function checkVisibilityChange(c: Caller, from: ImageRecord['visibility'] | undefined, to: string): void {
  if (c.isAdmin || to === from) return;
  if (to === 'public' || from === 'public')
    throw glance.forbidden('You are not authorized to complete publicize_image action.');
}
