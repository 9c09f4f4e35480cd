import CDLInferCPU
import Glibc
import Synchronization

/// A session's intra-op threads: `parallel(count, &args, body)` runs body(args, 0..<count) with
/// the caller taking part, and returns when all are done. A job allocates nothing and takes no
/// lock: indices are claimed with atomics. After a job workers spin for about a millisecond (an op
/// follows the previous one within microseconds, and a serving loop's next run often within a
/// millisecond; waking a sleeping thread costs tens of them), then sleep on a condition variable,
/// so an idle session burns no CPU. `beginRun` wakes sleeping workers at the start of a run. With
/// one thread everything runs inline.
final class ThreadPool: @unchecked Sendable {
    let threads: Int
    /// The job's generation (high bits) and its next unclaimed index (low 32 bits): a worker
    /// claims an index only of the generation it was woken for, so a late worker never takes
    /// part in a job whose fields it has not seen.
    private let cursor = Atomic<Int>(0)
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Bumped by `beginRun` to wake sleeping workers into spinning.
    private let runEpoch = Atomic<Int>(0)
    // Written by the caller before it publishes a generation; read by workers after claiming.
    private var job: (@convention(c) (UnsafeRawPointer, Int) -> Void)?
    private var jobArgs: UnsafeRawPointer?
    /// The job's generation (high bits) and its piece count: a worker still looping in an old job
    /// must not compare an old generation's index with a new job's count (it would claim a piece
    /// of the new job before it is published, and its completion would be miscounted).
    private let limit = Atomic<Int>(0)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var workers: [pthread_t] = []

    /// Spin iterations (each a `pause`, tens of ns) a worker waits for the next job before it sleeps,
    /// within a run and after one: sleeping as soon as a run ended, workers were woken by the next
    /// run and came tens of microseconds into its first op (MobileNetV2's first chain at 2 threads
    /// 1.68x faster than at 1, the later ones 1.8-1.9x).
    private static let spinLimit = 20_000

    /// One thread: everything inline (constant folding, single-threaded sessions).
    static let serial = try! ThreadPool(threads: 1)

    init(threads: Int) throws {
        self.threads = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
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
        stopping.store(true, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for t in workers { pthread_join(t, nil) }
        workers = []
    }

    /// Wakes sleeping workers into spinning, so they are ready by the run's first parallel op.
    func beginRun() {
        guard threads > 1 else { return }
        runEpoch.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(&mutex)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
        }
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
            precondition(count < 1 << 31)
            job = body
            jobArgs = raw
            pending.store(count, ordering: .sequentiallyConsistent)
            let gen = (generation.load(ordering: .relaxed) &+ 1) & 0x7fff_ffff
            limit.store(gen << 32 | count, ordering: .sequentiallyConsistent)
            cursor.store(gen << 32, ordering: .sequentiallyConsistent)
            generation.store(gen, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&wake)
                pthread_mutex_unlock(&mutex)
            }
            work(gen)
            // The last pieces are other threads'; if one of them lost its core (more runnable
            // threads than cores), yielding lets it finish instead of spinning against it.
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins < 4096 { dl_cpu_relax() } else { sched_yield() }
            }
            job = nil
            jobArgs = nil
        }
    }

    /// Claims and runs indices of generation `gen` until none are left.
    private func work(_ gen: Int) {
        while true {
            var current = cursor.load(ordering: .acquiring)
            var index = 0
            while true {
                guard current >> 32 == gen else { return }
                index = current & 0xffff_ffff
                let bound = limit.load(ordering: .acquiring)
                guard bound >> 32 == gen, index < bound & 0xffff_ffff else { return }
                let (exchanged, original) = cursor.compareExchange(expected: current, desired: current + 1,
                                                                   ordering: .acquiringAndReleasing)
                if exchanged { break }
                current = original
            }
            if let job, let jobArgs { job(jobArgs, index) }
            pending.subtract(1, ordering: .releasing)
        }
    }

    private func workerLoop() {
        var seen = 0, seenEpoch = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && !stopping.load(ordering: .relaxed)
                    && spins < Self.spinLimit {
                dl_cpu_relax()
                spins += 1
            }
            if generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .relaxed) {
                pthread_mutex_lock(&mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .sequentiallyConsistent)
                        && runEpoch.load(ordering: .sequentiallyConsistent) == seenEpoch {
                    pthread_cond_wait(&wake, &mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(&mutex)
                seenEpoch = runEpoch.load(ordering: .sequentiallyConsistent)
            }
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            let gen = generation.load(ordering: .acquiring)
            if gen != seen {
                seen = gen
                work(seen)
            }
        }
    }
}
