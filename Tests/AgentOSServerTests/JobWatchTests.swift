import AgentOSServer
import Foundation
import Testing

@Suite struct JobWatchTests {
    @Test func waiterWakesWhenTheJobFinishes() async {
        let watch = JobWatch()
        let ticket = watch.register("job")
        let clock = ContinuousClock()
        let start = clock.now
        Task {
            try? await Task.sleep(for: .milliseconds(50))
            watch.finished("job")
        }
        // A timeout far beyond what even a starved machine takes to wake it.
        await watch.wait(ticket, timeout: .seconds(300))
        #expect(clock.now - start < .seconds(200), "woken by the finish, not the timeout")
    }

    @Test func finishBeforeWaitingIsNotMissed() async {
        let watch = JobWatch()
        let ticket = watch.register("job")
        watch.finished("job")
        let clock = ContinuousClock()
        let start = clock.now
        await watch.wait(ticket, timeout: .seconds(300))
        #expect(clock.now - start < .seconds(200))
    }

    @Test func waitEndsAtTheTimeoutWhenNothingFinishes() async {
        let watch = JobWatch()
        let ticket = watch.register("job")
        watch.finished("other")
        await watch.wait(ticket, timeout: .milliseconds(50))
    }
}
