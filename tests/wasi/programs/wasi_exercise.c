/* Exercises wasi-libc's file, directory, clock and process functions, printing
 * only results that are the same on every correct WASI implementation.
 *
 * Usage: wasi_exercise DIR   (DIR: a preopened, writable, empty directory)
 * Exits with status 3 so the exit status can be checked too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Joins DIR and NAME into one of a few rotating buffers, so that a call can take
 * several joined paths. */
static const char *at(const char *dir, const char *name) {
    static char buffers[4][512];
    static int next;
    char *buf = buffers[next];
    next = (next + 1) % 4;
    snprintf(buf, sizeof buffers[0], "%s/%s", dir, name);
    return buf;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void list(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        printf("opendir %s: errno %d\n", dir, errno);
        return;
    }
    char *names[64];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL && count < 64) {
        names[count++] = strdup(entry->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    printf("listing of %s:", dir);
    for (int i = 0; i < count; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: wasi_exercise DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    printf("argc=%d argv1=%s\n", argc, dir);
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");

    FILE *f = fopen(at(dir, "data.txt"), "w");
    if (f == NULL) {
        printf("fopen for writing: errno %d\n", errno);
        return 1;
    }
    for (int i = 0; i < 100; i++) {
        fprintf(f, "line %d\n", i);
    }
    fclose(f);

    struct stat st;
    if (stat(at(dir, "data.txt"), &st) == 0) {
        printf("size=%lld regular=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    }

    f = fopen(at(dir, "data.txt"), "r");
    char line[64];
    int lines = 0;
    long sum = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lines++;
        sum += atoi(line + 5);
    }
    fseek(f, 7 * 10, SEEK_SET);
    fgets(line, sizeof line, f);
    printf("lines=%d sum=%ld at70=%s", lines, sum, line);
    printf("tell=%ld\n", ftell(f));
    fclose(f);

    int fd = open(at(dir, "data.txt"), O_RDWR);
    printf("pwrite=%zd\n", pwrite(fd, "LINE", 4, 0));
    char head[9] = {0};
    printf("pread=%zd head=%s\n", pread(fd, head, 8, 0), head);
    printf("ftruncate=%d\n", ftruncate(fd, 12));
    fstat(fd, &st);
    printf("truncated size=%lld\n", (long long)st.st_size);
    close(fd);

    printf("mkdir=%d\n", mkdir(at(dir, "sub"), 0755));
    printf("mkdir again=%d errno=%d\n", mkdir(at(dir, "sub"), 0755), errno);
    errno = 0;
    printf("rename=%d errno=%d\n", rename(at(dir, "data.txt"), at(dir, "sub/moved.txt")), errno);
    printf("symlink=%d\n", symlink("sub/moved.txt", at(dir, "link")));
    char target[64] = {0};
    printf("readlink=%zd target=%s\n", readlink(at(dir, "link"), target, sizeof target - 1), target);
    printf("stat via link=%d size=%lld\n", stat(at(dir, "link"), &st), (long long)st.st_size);
    printf("lstat link is symlink=%d\n", lstat(at(dir, "link"), &st) == 0 && S_ISLNK(st.st_mode));
    errno = 0;
    printf("link=%d errno=%d\n", link(at(dir, "sub/moved.txt"), at(dir, "hard.txt")), errno);
    stat(at(dir, "hard.txt"), &st);
    printf("nlink=%lld\n", (long long)st.st_nlink);
    list(dir);
    list(at(dir, "sub"));

    errno = 0;
    printf("open missing=%d errno=%d\n", open(at(dir, "missing"), O_RDONLY), errno);
    errno = 0;
    printf("open escape=%d errno_is_capable_or_perm=%d\n", open(at(dir, "../outside"), O_RDONLY),
           errno == ENOTCAPABLE || errno == EPERM);
    errno = 0;
    printf("rmdir nonempty=%d errno=%d\n", rmdir(at(dir, "sub")), errno);
    printf("unlink=%d %d %d\n", unlink(at(dir, "link")), unlink(at(dir, "hard.txt")),
           unlink(at(dir, "sub/moved.txt")));
    printf("rmdir=%d\n", rmdir(at(dir, "sub")));
    list(dir);

    struct timespec t0, t1, nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long slept_ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    printf("slept at least 20ms=%d\n", slept_ns >= 20000000LL);
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    printf("realtime after 2020=%d\n", real.tv_sec > 1577836800);

    fprintf(stderr, "to stderr\n");
    fflush(stdout);
    exit(3);
}
