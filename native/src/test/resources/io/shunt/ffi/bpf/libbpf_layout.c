/*
 * Prints the size of every struct the Java side lays out by hand, and the offset and size of each
 * field it names, as "struct field offset size" lines (the struct's own line has field "-").
 * LibbpfLayoutTest compiles it against the installed headers and compares.
 */
#include <stdio.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#define STRUCT(t) printf("%s - 0 %zu\n", #t, sizeof(struct t))
#define FIELD(t, f) printf("%s %s %zu %zu\n", #t, #f, offsetof(struct t, f), sizeof(((struct t *)0)->f))
#define MEMBER(t, name, f) printf("%s %s %zu %zu\n", #t, name, offsetof(struct t, f), sizeof(((struct t *)0)->f))

int main(void)
{
	STRUCT(bpf_object_open_opts);
	FIELD(bpf_object_open_opts, sz);
	FIELD(bpf_object_open_opts, object_name);
	FIELD(bpf_object_open_opts, relaxed_maps);
	FIELD(bpf_object_open_opts, pin_root_path);
	FIELD(bpf_object_open_opts, kconfig);
	FIELD(bpf_object_open_opts, btf_custom_path);
	FIELD(bpf_object_open_opts, kernel_log_buf);
	FIELD(bpf_object_open_opts, kernel_log_size);
	FIELD(bpf_object_open_opts, kernel_log_level);

	STRUCT(bpf_tc_hook);
	FIELD(bpf_tc_hook, sz);
	FIELD(bpf_tc_hook, ifindex);
	FIELD(bpf_tc_hook, attach_point);
	FIELD(bpf_tc_hook, parent);

	STRUCT(bpf_tc_opts);
	FIELD(bpf_tc_opts, sz);
	FIELD(bpf_tc_opts, prog_fd);
	FIELD(bpf_tc_opts, flags);
	FIELD(bpf_tc_opts, prog_id);
	FIELD(bpf_tc_opts, handle);
	FIELD(bpf_tc_opts, priority);

	STRUCT(bpf_prog_info);
	FIELD(bpf_prog_info, type);
	FIELD(bpf_prog_info, id);
	FIELD(bpf_prog_info, name);

	STRUCT(bpf_map_info);
	FIELD(bpf_map_info, type);
	FIELD(bpf_map_info, id);
	FIELD(bpf_map_info, key_size);
	FIELD(bpf_map_info, value_size);
	FIELD(bpf_map_info, max_entries);
	FIELD(bpf_map_info, map_flags);
	FIELD(bpf_map_info, name);

	STRUCT(bpf_link_info);
	FIELD(bpf_link_info, type);
	FIELD(bpf_link_info, id);
	FIELD(bpf_link_info, prog_id);
	MEMBER(bpf_link_info, "cgroup_id", cgroup.cgroup_id);
	MEMBER(bpf_link_info, "attach_type", cgroup.attach_type);

	printf("const BPF_TC_INGRESS %d 0\n", BPF_TC_INGRESS);
	printf("const BPF_TC_EGRESS %d 0\n", BPF_TC_EGRESS);
	printf("const BPF_LINK_TYPE_CGROUP %d 0\n", BPF_LINK_TYPE_CGROUP);
	return 0;
}
