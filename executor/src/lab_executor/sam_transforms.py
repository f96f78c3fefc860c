"""Two SAM templates deployed at once both deploy.

LocalStack 4.14.0 runs a template's AWS::Serverless transform (samtranslator)
in its own process. samtranslator reads the region from boto3's default session,
so LocalStack sets AWS_DEFAULT_REGION in the process's environment for the
transform and removes it afterwards
(ChangeSetModelTransform._apply_global_serverless_transformation, CloudFormation's
v2 engine, the default). Two stacks created at once share that environment:
the first transform to finish removes the variable while the second is still
running, which then fails with "AWS Region cannot be found", and its stack ends
CREATE_FAILED. CI's two template tests, on two test workers, hit it
(2026-12-07); a unit test shows it (tests/unit/test_localstack_patches.py).
CloudFormation in AWS creates any number of stacks at once.

The lab runs one transform at a time: each holds a lock from before it sets the
variable until after it has put it back. A transform takes well under a second
and only a template deployment runs one.

Applied when CloudFormation is first used, by the lab's CloudFormation provider
(``lab_cloudformation`` in plugins.py): importing the engine brings in
samtranslator, some 40 MB that a lab which never deploys a template does not need.
"""

import functools
import threading

from localstack.services.cloudformation.engine.v2.change_set_model_transform import ChangeSetModelTransform
from localstack.utils.patch import Patch

_ONE_AT_A_TIME = threading.Lock()
_NAME = "_apply_global_serverless_transformation"


def apply() -> Patch:
    # A staticmethod: the class's own attribute is wrapped and put back as one
    # (Patch.function would make it a method, and undo() would restore a plain function).
    transform = ChangeSetModelTransform.__dict__[_NAME].__func__

    @functools.wraps(transform)
    def one_at_a_time(*args, **kwargs):
        with _ONE_AT_A_TIME:
            return transform(*args, **kwargs)

    patch = Patch(ChangeSetModelTransform, _NAME, staticmethod(one_at_a_time))
    patch.old = ChangeSetModelTransform.__dict__[_NAME]
    patch.apply()
    return patch
