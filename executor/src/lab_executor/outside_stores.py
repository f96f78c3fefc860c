"""What LocalStack keeps outside the stores its services hand to a state visitor,
saved and restored beside them by persistence.py: S3's object bodies (in
temporary files) and SES's outbox (a module global); and the Lambda functions
and mappings a snapshot can hold that LocalStack cannot restore.
"""

import hashlib
import logging
import os

LOG = logging.getLogger("lab_executor.persistence")  # one logger for the saved state's lines


# --- S3 object bodies ------------------------------------------------------------
def _stable_storage_key(s3_object) -> str:
    """Where LocalStack's ephemeral S3 files an object's bytes: the same object
    identity as LocalStack's own ``str(hash(f"{key}?{version}"))``, through a digest.
    Python randomises a string's hash in every process, so after any restart each
    restored body sat under a key nobody looked up: objects read back empty, and a
    function whose unzipped code was gone (a new container) could not start."""
    identity = f"{s3_object.key}?{s3_object.version_id or 'null'}"
    return hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()


STABLE_KEY_LENGTH = 32  # hex digits of _stable_storage_key


def use_stable_s3_keys() -> None:
    """Before S3 stores anything (on_infra_start), so that every key is a stable one."""
    from localstack.services.s3.storage.ephemeral import EphemeralS3ObjectStore

    EphemeralS3ObjectStore._key_from_s3_object = staticmethod(_stable_storage_key)


def _s3_storage():
    from localstack.services.plugins import SERVICE_PLUGINS

    return SERVICE_PLUGINS.get_service("s3").lifecycle_hook._storage_backend


class S3Bodies:
    """LocalStack's S3 keeps an object's bytes in a spooled temporary file,
    outside its stores: in memory while small, in a file on disk once large
    (Lambda's code archives). The parent reads the files on disk (cached until
    they change); the child reads the ones in memory from its copy."""

    def __init__(self) -> None:
        self.on_disk: dict[tuple[str, str], tuple[int, bytes]] = {}

    def plan(self) -> dict:
        """{bucket: {storage key: (in-memory file or bytes, last modified)}}, taken in the parent."""
        planned: dict = {}
        still_on_disk = {}  # the cache keeps only objects that still exist: deleted code archives go
        for bucket, filesystem in list(_s3_storage()._filesystem.items()):
            for key, file in list(filesystem["keys"].items()):
                modified = file.internal_last_modified
                if file._rolled:
                    cached = self.on_disk.get((bucket, key))
                    if cached is None or cached[0] != modified:
                        with file.position_lock:
                            file.seek(0)
                            cached = (modified, file.read())
                    still_on_disk[(bucket, key)] = cached
                    body = cached[1]
                else:
                    body = file._file  # a BytesIO: read in the child, from its own copy
                planned.setdefault(bucket, {})[key] = (body, modified)
        self.on_disk = still_on_disk
        return planned

    @staticmethod
    def read(planned: dict) -> dict:
        """In the child: {bucket: {storage key: (bytes, last modified)}}."""
        return {
            bucket: {
                key: (body if isinstance(body, bytes) else body.getvalue(), modified)
                for key, (body, modified) in keys.items()
            }
            for bucket, keys in planned.items()
        }


def _restore_s3_bodies(bodies: dict) -> None:
    from localstack.services.s3.storage.ephemeral import S3_MAX_FILE_SIZE_BYTES, LockedSpooledTemporaryFile

    storage = _s3_storage()
    unmatched = 0
    for bucket, keys in bodies.items():
        bucket_dir = os.path.join(storage.root_directory, bucket)
        os.makedirs(bucket_dir, exist_ok=True)
        for key, (data, last_modified) in keys.items():
            if len(key) != STABLE_KEY_LENGTH:  # saved by a lab before stable keys: no object names it now
                unmatched += 1
                continue
            file = LockedSpooledTemporaryFile(dir=bucket_dir, max_size=S3_MAX_FILE_SIZE_BYTES)
            file.write(data)
            file.internal_last_modified = last_modified
            storage._filesystem[bucket]["keys"][key] = file
    if unmatched:
        LOG.warning(
            "lab: %d S3 object bodies saved by an older version of the lab cannot be matched to their "
            "objects and were left out (those objects read back empty; the lab's functions are "
            "created again from their code)",
            unmatched,
        )


def _code_archive_restored(code) -> bool:
    """Whether the bytes of a function's code archive came back with S3 (LocalStack
    starts a function from them when its unzipped copy is gone, as in a new container)."""
    from types import SimpleNamespace

    key = _stable_storage_key(SimpleNamespace(key=code.s3_key, version_id=code.s3_object_version))
    file = _s3_storage()._filesystem.get(code.s3_bucket, {}).get("keys", {}).get(key)
    if file is None:
        return False
    with file.position_lock:
        return file.seek(0, os.SEEK_END) == code.code_size


# --- SES's outbox -----------------------------------------------------------------
def ses_outbox() -> dict:
    """The emails sent (GET /_aws/ses): a module global of LocalStack's SES
    provider, which its state visitor does not hand over."""
    from localstack.services.ses.provider import EMAILS

    return EMAILS


def _restore_ses_outbox(emails: dict) -> None:
    from localstack.services.ses.provider import EMAILS

    EMAILS.clear()
    EMAILS.update(emails)


# What a service keeps outside the containers it hands to a visitor.
RESTORE_EXTRAS = {"s3": _restore_s3_bodies, "ses": _restore_ses_outbox}


def _drop_functions_without_code() -> list[str]:
    """Functions whose code archive did not come back, left out of the restore.
    LocalStack would restore them as Failed, a state it then neither updates nor
    deletes, and its mapping would keep delivering to them (each time a receive
    that counts towards the DLQ). Left out, the lab's provisioning creates its own
    functions again from their code, and their mappings go with them (below)."""
    from localstack.services.lambda_.invocation.lambda_models import S3Code
    from localstack.services.lambda_.invocation.models import lambda_stores

    dropped = []
    for account_bundle in lambda_stores.values():
        for store in account_bundle.values():
            for name, function in list(store.functions.items()):
                codes = [version.config.code for version in function.versions.values()]
                if any(isinstance(code, S3Code) and not _code_archive_restored(code) for code in codes):
                    del store.functions[name]
                    dropped.append(name)
    if dropped:
        LOG.warning(
            "lab: the code of %d function(s) did not come back with the saved state, so they are created again: %s",
            len(dropped),
            ", ".join(dropped),
        )
    return dropped


def _drop_orphan_mappings() -> list[str]:
    """Event source mappings whose function is gone, left out of the restore.
    LocalStack 4.14.0 deletes a function at once and its mappings a moment later;
    a snapshot taken between the two holds a mapping Lambda's on_after_state_load
    cannot restore (ResourceNotFoundException), and that failure left every
    function after it unrestored. AWS itself keeps a mapping whose function is
    deleted, but it can invoke nothing: nothing is lost by leaving it out."""
    from localstack.services.lambda_.invocation.models import lambda_stores

    dropped = []
    for account_bundle in lambda_stores.values():
        for store in account_bundle.values():
            for uuid, mapping in list(store.event_source_mappings.items()):
                function_name = mapping.get("FunctionArn", "").split(":function:")[-1].split(":")[0]
                if function_name not in store.functions:
                    del store.event_source_mappings[uuid]
                    dropped.append(f"{uuid} ({function_name})")
    if dropped:
        LOG.warning(
            "lab: not restoring %d event source mapping(s) of deleted functions: %s", len(dropped), ", ".join(dropped)
        )
    return dropped


# Run after a service's stores are loaded, before its on_after_state_load hook.
def _before_lambda_restore() -> None:
    _drop_functions_without_code()
    _drop_orphan_mappings()


BEFORE_RESTORE_HOOK = {"lambda": _before_lambda_restore}
