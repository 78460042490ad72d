"""The embedded default: a PostGIS cluster and a Mosquitto broker owned by the project.

Everything lives under the data directory (``GISAPP_DATA_DIR``, default ``.data/``)::

    pg/            PostgreSQL 15 cluster (PostGIS + pgRouting)
    pg-replica/    its hot standby, with `gisapp up --replica` (pg_basebackup; docs/deploy.md)
    mosquitto/     broker config, password and ACL files, persistence
    run/           pid files of every process `gisapp up` started
    log/           one log file per process
    secrets.json   per-install passwords (mode 600)

As root the servers run as the ``postgres`` and ``mosquitto`` system users.
"""

from gisapp.localstack.errors import StackError
from gisapp.localstack.stack import LocalStack

__all__ = ["LocalStack", "StackError"]
