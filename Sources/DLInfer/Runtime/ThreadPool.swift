import Glibc

/// A session's intra-op threads: `parallel(count, &args, body)` runs body(args, 0..<count) with
/// the caller taking part, and returns when all are done. Workers sleep on a condition variable
/// between jobs; a job allocates nothing. With one thread everything runs inline.
final class ThreadPool: @unchecked Sendable {
    let threads: Int
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var done = pthread_cond_t()
    private var job: (@convention(c) (UnsafeRawPointer, Int) -> Void)?
    private var jobArgs: UnsafeRawPointer?
    private var jobCount = 0
    private var next = 0
    private var pending = 0
    private var generation = 0
    private var stopping = false
    private var workers: [pthread_t] = []

    /// One thread: everything inline (constant folding, single-threaded sessions).
    static let serial = try! ThreadPool(threads: 1)

    init(threads: Int) throws {
        self.threads = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        pthread_cond_init(&done, nil)
        for _ in 1..<self.threads {
            var t = pthread_t()
            let box = Unmanaged.passRetained(WorkerStart(self)).toOpaque()
            guard pthread_create(&t, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool?.workerLoop()
                return nil
            }, box) == 0 else {
                Unmanaged<WorkerStart>.fromOpaque(box).release()
                shutdown()
                throw DLError(.internal, "cannot start intra-op thread \(workers.count + 1) of \(threads)")
            }
            workers.append(t)
        }
    }

    private final class WorkerStart {
        weak var pool: ThreadPool?
        init(_ pool: ThreadPool) { self.pool = pool }
    }

    deinit { shutdown() }

    private func shutdown() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for t in workers { pthread_join(t, nil) }
        workers = []
    }

    /// Runs body(args, i) for every i in 0..<count across the threads; indices are handed out one
    /// at a time, so uneven pieces balance. `body` is a C-convention function, so it captures
    /// nothing: everything it needs travels in `args` (on the caller's stack). Storing a Swift
    /// closure for the workers would allocate on every call, and a planned run must not.
    func parallel<Args>(_ count: Int, _ args: inout Args, _ body: @convention(c) (UnsafeRawPointer, Int) -> Void) {
        withUnsafePointer(to: &args) { pointer in
            let raw = UnsafeRawPointer(pointer)
            if threads == 1 || count <= 1 {
                for i in 0..<count { body(raw, i) }
                return
            }
            pthread_mutex_lock(&mutex)
            job = body
            jobArgs = raw
            jobCount = count
            next = 0
            pending = count
            generation &+= 1
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            work()
            pthread_mutex_lock(&mutex)
            while pending > 0 { pthread_cond_wait(&done, &mutex) }
            job = nil
            jobArgs = nil
            jobCount = 0
            pthread_mutex_unlock(&mutex)
        }
    }

    /// Takes indices of the current job until none are left. The job closure is only borrowed for
    /// each call, so nothing holds it once the caller sees the job finished.
    private func work() {
        while true {
            pthread_mutex_lock(&mutex)
            guard next < jobCount else { pthread_mutex_unlock(&mutex); return }
            let i = next
            next += 1
            pthread_mutex_unlock(&mutex)
            if let job, let jobArgs { job(jobArgs, i) }
            pthread_mutex_lock(&mutex)
            pending -= 1
            if pending == 0 { pthread_cond_signal(&done) }
            pthread_mutex_unlock(&mutex)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            pthread_mutex_lock(&mutex)
            while !stopping && generation == seen { pthread_cond_wait(&wake, &mutex) }
            if stopping { pthread_mutex_unlock(&mutex); return }
            seen = generation
            pthread_mutex_unlock(&mutex)
            work()
        }
    }
}
