"""The lab's queues: a queue (and its DLQ) created with its attributes, or
updated to them; its ARN; what a FIFO queue adds."""

from botocore.exceptions import ClientError

from lab.core.settings import Stack


def queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


# Fixed when a queue is created; SetQueueAttributes refuses them.
CREATE_ONLY_QUEUE_ATTRIBUTES = {"FifoQueue"}


def ensure_queue(sqs, name: str, attributes: dict[str, str]) -> str:
    """Create the queue, or bring an existing one to these attributes."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    changeable = {k: v for k, v in attributes.items() if k not in CREATE_ONLY_QUEUE_ATTRIBUTES}
    sqs.set_queue_attributes(QueueUrl=url, Attributes=changeable)
    return url


def queue_type_attributes(stack: Stack) -> dict[str, str]:
    if not stack.fifo:
        return {}
    return {
        "FifoQueue": "true",
        "ContentBasedDeduplication": str(stack.content_based_deduplication).lower(),
    }
