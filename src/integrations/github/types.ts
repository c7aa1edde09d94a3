/** A repository named in the config (`github: { repo: owner/name }`). */
export interface RepoRef {
  owner: string;
  repo: string;
  fullName: string;
}

/** A release asset as backout records it (enough to say what was there and prove it by digest). */
export interface ReleaseAsset {
  id: number;
  name: string;
  size: number;
  /** `sha256:<hex>` as GitHub reports it; null for assets uploaded before GitHub computed digests. */
  digest: string | null;
  contentType: string;
  downloadUrl: string;
}

/** A release, narrowed to what retraction reads and writes. */
export interface Release {
  id: number;
  tag: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  /** GitHub's `immutable` (absent on older GitHub Enterprise Server: treated as false). */
  immutable: boolean;
  createdAt: string;
  publishedAt: string | null;
  updatedAt: string | null;
  htmlUrl: string;
  assets: ReleaseAsset[];
}

/** The fields of `PATCH /releases/{id}` backout sends; absent fields are left as they are. */
export interface ReleasePatch {
  name?: string | null;
  body?: string | null;
  prerelease?: boolean;
  /** GitHub's `make_latest`: "true" pins this release as latest, "legacy" returns to date/semver order. */
  makeLatest?: 'true' | 'false' | 'legacy';
}

/**
 * The GitHub release operations commands and jobs use, built once in the composition root over
 * `@octokit/rest` with retries (5xx) and throttling (rate limits). Look-ups answer undefined for
 * 404; every other failure is a BackoutError (IntegrationError with `retryable` set).
 */
export interface Releases {
  /** A published release by tag (GitHub does not find drafts by tag). */
  byTag(repo: RepoRef, tag: string): Promise<Release | undefined>;
  byId(repo: RepoRef, id: number): Promise<Release | undefined>;
  /** The newest releases (at most `max`, ≤ 100), newest first; drafts too when the token may see them. */
  recent(repo: RepoRef, max?: number): Promise<Release[]>;
  /** `GET /releases/latest`: the release GitHub shows as latest, if any. */
  latest(repo: RepoRef): Promise<Release | undefined>;
  assets(repo: RepoRef, releaseId: number): Promise<ReleaseAsset[]>;
  update(repo: RepoRef, releaseId: number, patch: ReleasePatch): Promise<Release>;
  /** Deletes an asset; an asset that is already gone is not an error. */
  deleteAsset(repo: RepoRef, assetId: number): Promise<'deleted' | 'already-gone'>;
}
