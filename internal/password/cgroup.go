package password

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// ContainerMemory returns the memory limit of the control group this
// process runs in, in bytes, and whether there is one. root is where the
// file system starts: "/" in production, a directory holding proc/self/
// and sys/fs/cgroup/ fixtures in tests.
//
// The limit is cgroup v2's memory.max, or v1's memory.limit_in_bytes when
// the memory controller is mounted as v1 (hybrid hosts), read from the
// process's own group up to the top of its hierarchy: a parent's limit
// binds the child as much as its own does, and orchestrators often set it
// on a parent (a pod, a systemd slice). The smallest wins. A group
// without a limit ("max", or v1's page-rounded MaxInt64) has none.
//
// No cgroup files at all (not Linux, /proc not mounted) means no limit,
// not an error; an unreadable or malformed file is an error, which the
// caller should report rather than guess a limit from.
func ContainerMemory(root string) (limit int64, ok bool, err error) {
	self, err := os.ReadFile(filepath.Join(root, "proc", "self", "cgroup"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("container memory limit: %w", err)
	}
	v1, group, found := memoryGroup(self)
	if !found {
		return 0, false, nil
	}
	mounts, err := os.ReadFile(filepath.Join(root, "proc", "self", "mountinfo"))
	if err != nil {
		return 0, false, fmt.Errorf("container memory limit: %w", err)
	}
	mountRoot, mountPoint, found := cgroupMount(mounts, v1)
	if !found {
		return 0, false, nil
	}
	file := "memory.max"
	if v1 {
		file = "memory.limit_in_bytes"
	}
	top := filepath.Join(root, filepath.FromSlash(mountPoint))
	dir := filepath.Join(top, filepath.FromSlash(groupBelow(group, mountRoot)))
	limit = math.MaxInt64
	for {
		l, err := readLimit(filepath.Join(dir, file), v1)
		if err != nil {
			return 0, false, fmt.Errorf("container memory limit: %w", err)
		}
		limit = min(limit, l)
		if len(dir) <= len(top) {
			break
		}
		dir = filepath.Dir(dir)
	}
	if limit == math.MaxInt64 {
		return 0, false, nil
	}
	return limit, true, nil
}

// groupBelow returns group's path below the mounted part of its
// hierarchy, which starts at mountRoot: in a cgroup namespace both are
// "/" and the path is group's own; in a container that sees only its own
// group bind-mounted, mountRoot is that group and the path is "/". A
// group outside the mounted part (a path with "..", as a process outside
// its namespace's root sees) cannot be walked, so the mount point itself,
// the nearest group that can be read, stands in for it.
func groupBelow(group, mountRoot string) string {
	switch {
	case strings.Contains(group, ".."):
		return "/"
	case mountRoot == "/":
		return path.Clean("/" + group)
	case group == mountRoot:
		return "/"
	case strings.HasPrefix(group, mountRoot+"/"):
		return path.Clean(group[len(mountRoot):])
	default:
		return "/"
	}
}

// memoryGroup finds the process's memory cgroup in /proc/self/cgroup:
// the v1 line whose controllers include memory if there is one (on a
// hybrid host the memory controller is v1's, and the v2 line names a
// group without it), otherwise the v2 line "0::PATH".
func memoryGroup(b []byte) (v1 bool, group string, found bool) {
	var unified string
	var haveUnified bool
	for line := range strings.Lines(string(b)) {
		// hierarchy-ID:controller-list:cgroup-path; the path may hold
		// colons, so split in three.
		parts := strings.SplitN(strings.TrimRight(line, "\n"), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			unified, haveUnified = parts[2], true
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c == "memory" {
				return true, parts[2], true
			}
		}
	}
	return false, unified, haveUnified
}

// cgroupMount finds the mount of the hierarchy that holds the memory
// controller in /proc/self/mountinfo (proc(5)): a cgroup2 file system,
// or a v1 cgroup one with the memory super option. It returns the
// mount's root within the hierarchy and where it is mounted.
func cgroupMount(b []byte, v1 bool) (root, point string, found bool) {
	for line := range strings.Lines(string(b)) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		pre, post, ok := strings.Cut(strings.TrimRight(line, "\n"), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			continue
		}
		switch {
		case !v1 && g[0] == "cgroup2":
		case v1 && g[0] == "cgroup" && len(g) >= 3 && hasOption(g[2], "memory"):
		default:
			continue
		}
		return unescapeMount(f[3]), unescapeMount(f[4]), true
	}
	return "", "", false
}

func hasOption(opts, name string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == name {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes of space, tab, newline
// and backslash (\040, \011, \012, \134).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// v1Unlimited: cgroup v1 writes "no limit" as the largest page-aligned
// value of a 64-bit counter (9223372036854771712 with 4 KiB pages); any
// limit this high is none.
const v1Unlimited = math.MaxInt64 &^ (1<<20 - 1)

// readLimit reads one group's limit; a missing file (the root group has
// none in v2) is no limit.
func readLimit(file string, v1 bool) (int64, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return math.MaxInt64, nil
	}
	if err != nil {
		return 0, err
	}
	s := string(bytes.TrimSpace(b))
	if !v1 && s == "max" {
		return math.MaxInt64, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a memory limit", file, s)
	}
	if v1 && n >= v1Unlimited {
		return math.MaxInt64, nil
	}
	return n, nil
}
