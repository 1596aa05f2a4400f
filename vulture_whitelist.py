"""Names vulture cannot see used because a framework reads them (`make lint`; docs/testing.md, "Dead code").

Only framework-called names belong here: a name our own code should call but does not is dead code, to be
removed, not listed. Routes, schedules, queue handlers and pydantic validators need no entry: their
decorators are in pyproject.toml's `ignore_decorators`. This file is never imported.
"""

# ruff: noqa: B018, F821

# The routes' models named by string (chalicelib/api/framework.py resolves them; tests/unit/test_import.py
# checks each exists): DesktopAction on its route, the plan models built from PlanKind.model in
# chalicelib/api/rest/lifecycle.py.
DesktopAction
ReleasePlanBody, ReleasePlanUpdate, RespReleasePlanCreated
PowerPlanBody, PowerPlanUpdate, RespPowerPlanCreated

# Chalice names a route's view after the handler (chalicelib/api/rest/lifecycle.py `_named`).
_.__qualname__

# Fields of the API's pydantic models: pydantic reads them when it parses a body and writes a reply, so they
# are the JSON field names of the API, not names our code reads.
_.address_private, _.allow_cleartext, _.allow_cleartext_password, _.available_vm, _.bind_password_set,
_.build_limit, _.center_info, _.condition_type, _.counts_updated, _.create_new_volume, _.db_internal,
_.delete_volume_on_instance_delete, _.error_message, _.forward_to, _.heartbeat_seconds, _.init_unavailable,
_.inventory_updated, _.is_scanning, _.last_checked, _.last_scan, _.load_balancer_id, _.log_error_threshold,
_.log_information_threshold, _.log_warning_threshold, _.mark_deletable, _.mark_unavailable, _.new_volume_type,
_.next_time_limit, _.offer_empty_pools, _.offer_vms, _.over_max, _.plan_power_control_id, _.plan_release_id,
_.poll_interval, _.pool_attribute_join, _.pool_history_age, _.pool_history_interval, _.pool_name,
_.prov_action_action, _.prov_action_wait_unit, _.prov_action_wait_value, _.provision_error,
_.provision_forecast_auto, _.provision_forecast_max_cap,
_.provision_limits_enforce, _.provision_max, _.provision_on_off, _.provision_threshold, _.provision_time_day,
_.provision_time_max_size, _.provision_time_start, _.provision_time_stop, _.provision_time_threshold,
_.provision_time_zone, _.provision_vm_display_name, _.provision_vm_name, _.provision_vm_name_next_value,
_.provisioning_actions, _.restrict_by, _.retain_history, _.running_desktops_threshold, _.session_expire_delay,
_.shared_key_set, _.stored_data, _.text_to_match, _.time_zone, _.token_type, _.total_agent_running,
_.total_connected, _.total_logged_in, _.total_vm_running, _.total_vm_stopped, _.total_vm_suspended,
_.type_label, _.unavailable_vm, _.use_src_ip, _.vc_datacenter, _.vc_domain, _.vc_name, _.vc_version,
_.vm_table_field, _.work_queue
_.status_label

# `PoolSize` fields (chalicelib/domain/provisioning.py) are read by name in `as_dict`: the pool size info.
_.available_vm, _.unavailable_vm, _.total_vm_running, _.total_vm_stopped, _.total_vm_suspended
_.total_agent_running, _.total_logged_in, _.total_connected

# pynamodb reads these Meta attributes and the cached `_connection` (chalicelib/store/models.py, binding.py).
_.billing_mode, _.read_timeout_seconds, _.max_retry_attempts
_._connection

# The `by_user` index of `desktops` is read by nothing; it leaves the model in the deploy after `by_instance`
# left, because CloudFormation deletes at most one index of a table per stack update (docs/data-model.md).
_.by_user

# Fields of the typed desktop (chalicelib/domain/entities/desktops.py) that the services write with
# `dataclasses.replace` and that reach the stored document through `Desktop.stored_doc` (which reads every
# field by name), kept there for the record: no code reads them back.
_.release_handled, _.last_action_at
