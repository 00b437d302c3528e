"""Cloud drivers for attacks (apache-libcloud based).

``from chaosmonkey.drivers import EC2DriverFactory`` works as in the seed engine's plugin guide.
"""

from chaosmonkey.drivers.ec2 import AWSCredentials, EC2DriverFactory
from chaosmonkey.drivers.errors import DriverError
from chaosmonkey.drivers.libcloud_factory import LibcloudDriverFactory

__all__ = ["AWSCredentials", "DriverError", "EC2DriverFactory", "LibcloudDriverFactory"]
