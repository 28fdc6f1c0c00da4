package password

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeRoot writes files (path relative to the root → content) into a
// fresh directory that stands for "/".
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body), Mode: 0o644}
	}
	root := t.TempDir()
	if err := os.CopyFS(root, fsys); err != nil {
		t.Fatal(err)
	}
	return root
}

// Mount lines as /proc/self/mountinfo shows them on a cgroup v2 host, a
// hybrid v1 host, and inside a container without a cgroup namespace that
// sees its own v1 group bind-mounted.
const (
	mountV2 = "24 30 0:22 / /proc rw,nosuid - proc proc rw\n" +
		"35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	mountHybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	mountV1Bind = "612 604 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:15 - cgroup cgroup rw,memory\n"
)

const (
	mib       = 1 << 20
	v1NoLimit = "9223372036854771712\n" // what v1 shows with 4 KiB pages
)

func TestContainerMemory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  map[string]string
		want   int64
		wantOK bool
	}{
		{
			name: "v2, own namespace",
			files: map[string]string{
				"proc/self/cgroup":          "0::/\n",
				"proc/self/mountinfo":       mountV2,
				"sys/fs/cgroup/memory.max":  "268435456\n",
				"sys/fs/cgroup/memory.high": "100000\n", // a throttle, not the limit
			},
			want: 256 * mib, wantOK: true,
		},
		{
			name: "v2, the pod's limit binds a container without one",
			files: map[string]string{
				"proc/self/cgroup":                           "0::/kubepods/pod1/ctr\n",
				"proc/self/mountinfo":                        mountV2,
				"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "max\n",
				"sys/fs/cgroup/kubepods/pod1/memory.max":     "134217728\n",
				"sys/fs/cgroup/kubepods/memory.max":          "1073741824\n",
			},
			want: 128 * mib, wantOK: true,
		},
		{
			name: "v2, the container's own limit is the smaller",
			files: map[string]string{
				"proc/self/cgroup":                           "0::/kubepods/pod1/ctr\n",
				"proc/self/mountinfo":                        mountV2,
				"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "100663296\n",
				"sys/fs/cgroup/kubepods/pod1/memory.max":     "134217728\n",
			},
			want: 96 * mib, wantOK: true,
		},
		{
			name: "v2, no limit anywhere",
			files: map[string]string{
				"proc/self/cgroup":                                    "0::/user.slice/session-1.scope\n",
				"proc/self/mountinfo":                                 mountV2,
				"sys/fs/cgroup/user.slice/memory.max":                 "max\n",
				"sys/fs/cgroup/user.slice/session-1.scope/memory.max": "max\n",
			},
		},
		{
			name: "hybrid host: the memory controller is v1's",
			files: map[string]string{
				"proc/self/cgroup":    "8:pids:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n",
				"proc/self/mountinfo": mountHybrid,
				"sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": "209715200\n",
				"sys/fs/cgroup/memory/process_api/memory.limit_in_bytes":     v1NoLimit,
				"sys/fs/cgroup/memory/memory.limit_in_bytes":                 v1NoLimit,
				"sys/fs/cgroup/unified/process_api/abc/memory.max":           "1\n", // no memory controller here
			},
			want: 200 * mib, wantOK: true,
		},
		{
			name: "v1, unlimited",
			files: map[string]string{
				"proc/self/cgroup":    "4:memory:/process_api/abc\n0::/\n",
				"proc/self/mountinfo": mountHybrid,
				"sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": v1NoLimit,
				"sys/fs/cgroup/memory/memory.limit_in_bytes":                 v1NoLimit,
			},
		},
		{
			name: "v1, own group bind-mounted in a container",
			files: map[string]string{
				"proc/self/cgroup":                           "11:memory,hugetlb:/docker/abc\n",
				"proc/self/mountinfo":                        mountV1Bind,
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "67108864\n",
			},
			want: 64 * mib, wantOK: true,
		},
		{
			name: "escaped mount point",
			files: map[string]string{
				"proc/self/cgroup":            "0::/\n",
				"proc/self/mountinfo":         `35 24 0:30 / /sys/fs/my\040cgroup rw - cgroup2 cgroup2 rw` + "\n",
				"sys/fs/my cgroup/memory.max": "33554432\n",
			},
			want: 32 * mib, wantOK: true,
		},
		{
			name:  "no /proc: not Linux",
			files: map[string]string{"etc/hostname": "x\n"},
		},
		{
			name: "no memory controller in any hierarchy",
			files: map[string]string{
				"proc/self/cgroup":    "4:cpu:/\n",
				"proc/self/mountinfo": mountHybrid,
			},
		},
		{
			name: "cgroup file names a hierarchy that is not mounted",
			files: map[string]string{
				"proc/self/cgroup":    "0::/\n",
				"proc/self/mountinfo": "24 30 0:22 / /proc rw - proc proc rw\n",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := ContainerMemory(fakeRoot(t, tc.files))
			if err != nil {
				t.Fatalf("ContainerMemory: %v", err)
			}
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ContainerMemory = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// A malformed limit is an error, not a guess; the error names the file.
func TestContainerMemoryMalformed(t *testing.T) {
	for _, body := range []string{"lots\n", "-1\n", "", "max\n"} {
		files := map[string]string{
			"proc/self/cgroup":    "4:memory:/a\n",
			"proc/self/mountinfo": mountHybrid,
			// "max" is v2's word: in v1 it is malformed.
			"sys/fs/cgroup/memory/a/memory.limit_in_bytes": body,
		}
		_, ok, err := ContainerMemory(fakeRoot(t, files))
		if err == nil || ok {
			t.Errorf("limit file %q: ok = %v, err = %v; want an error", body, ok, err)
			continue
		}
		if !strings.Contains(err.Error(), "memory.limit_in_bytes") {
			t.Errorf("limit file %q: error %q does not name the file", body, err)
		}
	}
}

func TestGroupBelow(t *testing.T) {
	for _, tc := range []struct{ group, mountRoot, want string }{
		{"/", "/", "/"},
		{"/a/b", "/", "/a/b"},
		{"/docker/abc", "/docker/abc", "/"},
		{"/docker/abc/sub", "/docker/abc", "/sub"},
		{"/docker/abcdef", "/docker/abc", "/"}, // a sibling, not below
		{"/../../user.slice", "/", "/"},        // outside the namespace's root
	} {
		if got := groupBelow(tc.group, tc.mountRoot); got != tc.want {
			t.Errorf("groupBelow(%q, %q) = %q, want %q", tc.group, tc.mountRoot, got, tc.want)
		}
	}
}
