"""LocalStack's twisted gateway server, bound to the interface it was given.

LocalStack 4.14.0's ``TwistedRuntimeServer.register`` ignores the host part of
``GATEWAY_LISTEN`` for IPv4 (the TODO in ``localstack/runtime/server/twisted.py``),
so ``127.0.0.1:4566`` still listens on ``0.0.0.0:4566``: on a classroom network
every student's LocalStack would be reachable by the others. This is the same
method with the host passed as the listening interface; nothing else differs.
"""

from localstack import config
from localstack.aws.serving.twisted import TLSMultiplexerFactory
from localstack.runtime.server.twisted import TwistedRuntimeServer
from rolo.serving.twisted import TwistedGateway
from twisted.internet import endpoints, reactor, ssl


class LoopbackTwistedRuntimeServer(TwistedRuntimeServer):
    def register(self, gateway, listen, ssl_creds=None):
        site = TwistedGateway(gateway)
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            protocol_factory = TLSMultiplexerFactory(context_factory, False, site)
        else:
            protocol_factory = site

        for host_and_port in listen:
            if config.is_ipv6_address(host_and_port.host):
                endpoint_class = endpoints.TCP6ServerEndpoint
            else:
                endpoint_class = endpoints.TCP4ServerEndpoint
            endpoint = endpoint_class(reactor, host_and_port.port, interface=host_and_port.host)
            endpoint.listen(protocol_factory)
