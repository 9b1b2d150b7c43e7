//! The MariaDB/MySQL backend (feature `mysql`): being written, nothing here yet.
