import Foundation
import Testing
import ZeroMQ

@Suite struct PollerTests {
    @Test func timesOutWithNothingReadable() throws {
        let context = try Context()
        let pull = try context.lingerlessSocket(.pull)
        try pull.bind("inproc://idle")
        let wakeup = try WakeupSignal()

        var poller = Poller()
        poller.add(pull)
        poller.add(fd: wakeup.fileDescriptor)

        let start = ContinuousClock.now
        #expect(try poller.poll(timeoutMs: 30).isEmpty)
        #expect(ContinuousClock.now - start >= .milliseconds(20))
    }

    @Test func reportsTheIndexOfTheSocketThatReceivedAMessage() throws {
        let context = try Context()
        let idle = try context.lingerlessSocket(.pull)
        let pull = try context.lingerlessSocket(.pull)
        let push = try context.lingerlessSocket(.push)
        try idle.bind("inproc://idle")
        try pull.bind("inproc://busy")
        try push.connect("inproc://busy")

        var poller = Poller()
        #expect(poller.add(idle) == 0)
        let busyIndex = poller.add(pull)
        #expect(busyIndex == 1)

        try push.send(["work".frame])
        #expect(try poller.poll(timeoutMs: 2000) == [busyIndex])
        #expect(try pull.receive(dontWait: true) == ["work".frame])
        #expect(try poller.poll(timeoutMs: 0).isEmpty)
    }

    @Test func wakesUpWhenAnotherThreadNotifies() throws {
        let context = try Context()
        let pull = try context.lingerlessSocket(.pull)
        try pull.bind("inproc://idle")
        let wakeup = try WakeupSignal()

        var poller = Poller()
        poller.add(pull)
        let wakeupIndex = poller.add(fd: wakeup.fileDescriptor)

        Thread {
            wakeup.notify()
            wakeup.notify()
        }.start()
        #expect(try poller.poll(timeoutMs: 2000) == [wakeupIndex])

        // Draining consumes every pending notification at once.
        Thread.sleep(forTimeInterval: 0.01)
        wakeup.drain()
        #expect(try poller.poll(timeoutMs: 0).isEmpty)
    }

    @Test func failsOnAClosedSocket() throws {
        let context = try Context()
        let socket = try context.lingerlessSocket(.pull)
        var poller = Poller()
        poller.add(socket)
        socket.close()
        #expect(throws: ZMQError.self) { try poller.poll(timeoutMs: 0) }
    }
}
