"""A synthetic MySQL dump in phpMyAdmin's and mysqldump's shapes.

Dumps put a whole multi-row INSERT on one line; the fixture keeps that shape.
"""

# ruff: noqa: E501

DUMP = r"""-- phpMyAdmin SQL Dump
SET SQL_MODE = "NO_AUTO_VALUE_ON_ZERO";
/*!40101 SET NAMES utf8 */;

CREATE TABLE IF NOT EXISTS `mdl_config` (
  `id` bigint(10) NOT NULL,
  `value` longtext NOT NULL
) ENGINE=InnoDB;
INSERT INTO `mdl_config` VALUES (1, 'a; tricky ''value'' with (parens) and
a newline; still inside'), (2, 'x');

CREATE TABLE IF NOT EXISTS `mdl_logstore_standard_log` (
  `id` bigint(10) NOT NULL AUTO_INCREMENT,
  `eventname` varchar(255) NOT NULL DEFAULT '',
  `component` varchar(100) NOT NULL DEFAULT '',
  `action` varchar(100) NOT NULL DEFAULT '',
  `target` varchar(100) NOT NULL DEFAULT '',
  `objecttable` varchar(50) DEFAULT NULL,
  `objectid` bigint(10) DEFAULT NULL,
  `crud` varchar(1) NOT NULL DEFAULT '',
  `edulevel` tinyint(1) NOT NULL,
  `contextid` bigint(10) NOT NULL,
  `contextlevel` bigint(10) NOT NULL,
  `contextinstanceid` bigint(10) NOT NULL,
  `userid` bigint(10) NOT NULL,
  `courseid` bigint(10) DEFAULT NULL,
  `relateduserid` bigint(10) DEFAULT NULL,
  `anonymous` tinyint(1) NOT NULL DEFAULT '0',
  `other` longtext,
  `timecreated` bigint(10) NOT NULL,
  `origin` varchar(10) DEFAULT NULL,
  `ip` varchar(45) DEFAULT NULL,
  `realuserid` bigint(10) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
INSERT INTO `mdl_logstore_standard_log` VALUES (1, '\\core\\event\\user_loggedin', 'core', 'loggedin', 'user', 'user', 2, 'r', 0, 1, 10, 0, 2, 0, NULL, 0, 'a:1:{s:8:"username";s:5:"admin";}', 1435054830, 'web', '0:0:0:0:0:0:0:1', NULL),(2, '\\core\\event\\course_viewed', 'core', 'viewed', 'course', NULL, NULL, 'r', 2, 2, 50, 1, 0, 1, NULL, 0, 'N;', 1435060018, 'web', '10.0.0.1', NULL);
INSERT INTO `mdl_logstore_standard_log` (`id`, `eventname`, `component`, `action`, `target`, `objecttable`, `objectid`, `crud`, `edulevel`, `contextid`, `contextlevel`, `contextinstanceid`, `userid`, `courseid`, `relateduserid`, `anonymous`, `other`, `timecreated`, `origin`, `ip`, `realuserid`) VALUES
(3, '\\mod_page\\event\\course_module_viewed', 'mod_page', 'viewed', 'course_module', 'page', 4, 'r', 2, 30, 70, 12, 5, 3, NULL, 0, '{"content":"it\'s; fine"}', 1435060100, 'web', '10.0.0.2', 2),
(4, '\\core\\event\\user_login_failed', 'core', 'failed', 'user_login', NULL, NULL, 'r', 0, 1, 10, 0, 0, 0, NULL, 0, 'a:2:{s:8:"username";s:6:"secret";s:6:"reason";i:3;}', 1435060200, 'web', '10.0.0.3', NULL),
(5, '\\core\\event\\course_viewed', 'core', 'viewed', 'course', NULL, NULL, 'r', 2, 20, 50, 3, 1, 3, NULL, 0, 'not php at all', 1435060300, 'web', '10.0.0.4', NULL);

CREATE TABLE IF NOT EXISTS `mdl_course` (
  `id` bigint(10) NOT NULL,
  `category` bigint(10) NOT NULL,
  `fullname` varchar(254) NOT NULL,
  `shortname` varchar(255) NOT NULL,
  `format` varchar(21) NOT NULL,
  `startdate` bigint(10) NOT NULL,
  `visible` tinyint(1) NOT NULL
) ENGINE=InnoDB;
INSERT INTO `mdl_course` (`id`, `category`, `fullname`, `shortname`, `format`, `startdate`, `visible`) VALUES
(1, 0, 'Front page', 'home', 'site', 0, 1),
(3, 2, 'Maths \'101\'', 'M101', 'weeks', 1435165200, 0);
INSERT INTO `mdl_course_modules` (`id`, `course`, `module`, `instance`, `completion`, `visible`) VALUES
(12, 3, 15, 4, 1, 1);
INSERT INTO `mdl_modules` (`id`, `name`) VALUES (15, 'page');
INSERT INTO `mdl_context` (`id`, `contextlevel`, `instanceid`) VALUES (20, 50, 3), (30, 70, 12);
INSERT INTO `mdl_role` (`id`, `shortname`) VALUES (5, 'student'), (3, 'editingteacher'), (7, 'user');
INSERT INTO `mdl_role_assignments` (`id`, `roleid`, `contextid`, `userid`) VALUES (1, 5, 20, 5), (2, 3, 20, 2), (3, 7, 20, 9);
INSERT INTO `mdl_enrol` (`id`, `enrol`, `status`, `courseid`) VALUES (8, 'manual', 0, 3);
INSERT INTO `mdl_user_enrolments` (`id`, `status`, `enrolid`, `userid`, `timestart`, `timeend`) VALUES (1, 0, 8, 5, 1435165200, 0), (2, 1, 8, 2, 0, 0), (3, 0, 8, 9, 0, 0);
"""
