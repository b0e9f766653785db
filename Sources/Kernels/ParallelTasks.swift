/// Work made of independent tasks, for `GemmWorkspace.forEachTask`.
public protocol IndependentTasks {
    /// Runs task `task` on the thread numbered `thread`, with `lane` for its products.
    func run(task: Int, thread: Int, lane: GemmWorkspace)
}

extension GemmWorkspace {
    /// Runs `tasks.run(task:thread:lane:)` for every task in `0..<count`, the tasks cut into
    /// equal contiguous runs, one per thread of the workspace. `thread` numbers the run (for
    /// per-thread scratch) and `lane` is the workspace for the products inside a task: a
    /// one-thread workspace on that thread's packing buffers, or, for a single task, this one.
    ///
    /// For many independent small products, such as attention's per-(sequence, head) ones:
    /// split one by one across the threads, each would pay a wake-up and a wait that cost
    /// about as much as the product. Allocates nothing (a protocol, not a closure: handing a
    /// closure to the workers cost an allocation per call).
    public func forEachTask<Tasks: IndependentTasks>(_ count: Int, _ tasks: Tasks) {
        let parts = min(threads, count)
        if parts <= 1 {
            for task in 0..<count { tasks.run(task: task, thread: 0, lane: self) }
            return
        }
        parallelFor(threads: parts, TaskRuns(count: count, parts: parts, lanes: lanes, tasks: tasks))
    }
}

private struct TaskRuns<Tasks: IndependentTasks>: ParallelJob {
    let count: Int, parts: Int
    let lanes: [GemmWorkspace]
    let tasks: Tasks

    func run(part: Int) {
        let lane = lanes[part]
        for task in evenSplit(units: count, parts: parts, part: part) {
            tasks.run(task: task, thread: part, lane: lane)
        }
    }
}
