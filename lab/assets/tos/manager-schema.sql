-- The Manager's database as a TOS Manager has it: table manager_info (key, value), PEM values stored without their trailing
-- newline. The lab seeds it (lab/src/manager-seed.ts adds the rows and the manager user) and so do the MariaDB unit tests.
DROP DATABASE IF EXISTS manager;
CREATE DATABASE manager DEFAULT CHARACTER SET utf8mb4;
USE manager;
CREATE TABLE manager_info (`key` varchar(255) NOT NULL PRIMARY KEY, `value` mediumtext) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
